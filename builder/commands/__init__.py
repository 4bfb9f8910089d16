"""The verbs of `pybuild`: one module per verb, each with `add_arguments(parser)` and
`run(args) -> int`, imported by `builder.cli` only when its verb is used.

Imports follow one rule, because `pybuild VERB --help` imports the verb's module:
- At the top, a verb module imports only what its flags and light helpers need: the
  stdlib, `builder.errors`, `store.errors` and small pure modules (`builder.units`,
  `builder.progress`, `store.oci.platform`, another verb's flag helpers). Never the
  product: `builder.engine`, `builder.inspect.*`, `builder.frontend.plan`,
  `builder.sandbox`, `store.layout` and the store's I/O, `registry_client`, `rich`
  (`tests/unit/cli/test_help_contract.py::test_startup_is_lazy` checks a few verbs).
- `run(args)` is where the verb reaches the product: it imports those modules in one
  place, at its start. Other functions import nothing: `run` hands them what they
  need, or they use the module top's light imports.
- `_store_common` holds helpers several verbs share; it is imported from `run`, so its
  own imports are at its top.
"""
