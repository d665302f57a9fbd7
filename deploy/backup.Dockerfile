# syntax=docker/dockerfile:1
# The MoodWatch image plus PostgreSQL's client tools, to run `manage.py db_backup` and `db_restore`
# in the stack (docker-compose.backup.yml). The serving image carries no pg_dump: web, worker and
# beat never need one. pg_dump must be of the server's major version or newer, and Debian bookworm
# ships 15, so the client comes from the PostgreSQL project's apt repository (PGDG), as the
# official postgres image's does; POSTGRES_MAJOR follows the db service's image (postgres:16).
ARG APP_IMAGE=moodwatch:latest
FROM ${APP_IMAGE}
ARG POSTGRES_MAJOR=16
USER root
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql-common ca-certificates \
 && /usr/share/postgresql-common/pgdg/apt.postgresql.org.sh -y \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "postgresql-client-${POSTGRES_MAJOR}" \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /backups && chown moodwatch:moodwatch /backups
USER moodwatch
CMD ["python", "manage.py", "help", "db_backup"]
