#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *n = argv[i];
        long r;
        errno = 0;
        if (!strcmp(n, "keyctl")) r = syscall(SYS_keyctl, 0, 0, 0, 0, 0);
        else if (!strcmp(n, "add_key")) r = syscall(SYS_add_key, "user", "x", "y", 1, -2);
        else if (!strcmp(n, "kexec_load")) r = syscall(SYS_kexec_load, 0, 0, 0, 0);
        else if (!strcmp(n, "open_by_handle_at")) r = syscall(SYS_open_by_handle_at, -1, 0, 0);
        else if (!strcmp(n, "init_module")) r = syscall(SYS_init_module, 0, 0, "");
        else if (!strcmp(n, "reboot")) r = syscall(SYS_reboot, 0, 0, 0, 0);
        else if (!strcmp(n, "unshare")) r = syscall(SYS_unshare, 0x00020000);
        else if (!strcmp(n, "clone3")) r = syscall(435, 0, 0);
        else if (!strcmp(n, "getpid")) r = syscall(SYS_getpid);
        else { fprintf(stderr, "unknown %s\n", n); return 2; }
        printf("%s %ld %d\n", n, r, r < 0 ? errno : 0);
    }
    return 0;
}
