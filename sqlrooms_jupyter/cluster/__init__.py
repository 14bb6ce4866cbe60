"""Scale-out: several replicas on one dataset (see README, "Deployment").

`postgres` needs psycopg (the `[lake]` extra); import it only under `--cluster`.
"""
