"""The Dockerfile front end: text -> typed instructions -> a pure build plan.

`syntax` parses (the lark grammar `grammar.lark`, compiled ahead of time into
`_dockerfile_parser` by scripts/gen_parser.py), `lineparsers` and `instructions` type
each instruction with its flags, `expand` and `args` do shell-word expansion and
ARG/--build-arg resolution, `plan` turns the stages into a `BuildPlan`, and
`dockerignore` matches context paths. Nothing here runs a command or touches the store:
the host platform and the base images' configs are passed in.
"""
