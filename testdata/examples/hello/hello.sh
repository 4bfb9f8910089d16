#!/bin/sh
# The example app: greets, and shows it runs inside pybuild's sandbox.
echo "Hello from pybuild! (hostname $(hostname), $(ls /app | wc -l) files in /app)"
