"""The PostgreSQL role the application runs under: only the rights it needs, owner of nothing.

Migrations run as the owner of the schema (the role that created the tables). Web, worker and beat
connect as this role, which may read and write rows but cannot TRUNCATE, ALTER or DROP anything,
nor DELETE audit rows (on top of the audit log's own triggers). Default privileges give it
the same rights on the tables later migrations create, when the owner runs those migrations.
"""
from django.db import connection
from psycopg import sql

ROW_RIGHTS = "SELECT, INSERT, UPDATE, DELETE"
# Append-only: the app inserts and reads audit rows, never deletes them. UPDATE stays: Django itself
# unlinks a deleted account's or patient's rows (on_delete=SET_NULL), the one change the trigger allows.
APPEND_ONLY_TABLES = ("audit_auditevent",)


def app_role_statements(*, role: str, password: str, database: str, schema: str = "public") -> list[sql.Composable]:
    """The statements that create (or update) `role` and give it its rights; safe to run again."""
    r, s = sql.Identifier(role), sql.Identifier(schema)
    statements = [
        sql.SQL("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {name}) THEN "
                "CREATE ROLE {r}; END IF; END $$").format(name=sql.Literal(role), r=r),
        sql.SQL("ALTER ROLE {r} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS "
                "PASSWORD {p}").format(r=r, p=sql.Literal(password)),
        sql.SQL("GRANT CONNECT ON DATABASE {d} TO {r}").format(d=sql.Identifier(database), r=r),
        # PostgreSQL 15's default, also on older servers: no one but the owner creates tables there.
        sql.SQL("REVOKE CREATE ON SCHEMA {s} FROM PUBLIC").format(s=s),
        sql.SQL("GRANT USAGE ON SCHEMA {s} TO {r}").format(s=s, r=r),
        sql.SQL("GRANT " + ROW_RIGHTS + " ON ALL TABLES IN SCHEMA {s} TO {r}").format(s=s, r=r),
        sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {s} TO {r}").format(s=s, r=r),
        sql.SQL("ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT " + ROW_RIGHTS + " ON TABLES TO {r}").format(s=s, r=r),
        sql.SQL("ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT USAGE, SELECT ON SEQUENCES TO {r}").format(s=s, r=r),
    ]
    for table in APPEND_ONLY_TABLES:
        statements.append(sql.SQL("REVOKE DELETE, TRUNCATE ON {s}.{t} FROM {r}").format(
            s=s, t=sql.Identifier(table), r=r))
    return statements


def app_role_script(*, role: str, password: str, database: str) -> str:
    """The statements as one SQL script, for a DBA to run with psql on the hospital's server."""
    connection.ensure_connection()
    raw = connection.connection
    return "".join(f"{statement.as_string(raw)};\n"
                   for statement in app_role_statements(role=role, password=password, database=database))


def app_role_grant(*, role: str, password: str) -> None:
    """Create or update the app role on the database Django is connected to (as its owner)."""
    database = connection.settings_dict["NAME"]
    with connection.cursor() as cursor:
        for statement in app_role_statements(role=role, password=password, database=database):
            cursor.execute(statement)
