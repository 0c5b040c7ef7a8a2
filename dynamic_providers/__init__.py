"""Import paths of Pulumi state written before ton_deploy/ and database/*_resource.py existed. Nothing new
goes here.

The engine stores each dynamic resource's provider pickled by module path, and `refresh` and `destroy`
unpickle the one in the stored outputs (they are rewritten only when the resource is created or updated,
which an unchanged contract never is). So these modules stay, each re-exporting its provider class from
where it lives now; tests/e2e/test_state_compat.py proves a stack created before the move previews no
change, refreshes and destroys with them.
"""
