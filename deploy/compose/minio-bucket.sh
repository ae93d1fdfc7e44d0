#!/bin/sh
# docker-compose.yml's minio-bucket service: the backup bucket, with object lock (which makes it versioned), so a
# backup can be protected from deletion. Fails when MinIO did not turn either on. Idempotent.
set -eu
mc alias set local http://minio:9000 "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD"
mc mb --ignore-existing --with-lock "local/$BUCKET"
mc version enable "local/$BUCKET"
mc version info "local/$BUCKET" | grep -q 'versioning is enabled'
mc retention info --default "local/$BUCKET" >/dev/null # errors when the bucket has no object lock configuration
echo "bucket $BUCKET: versioning and object lock on"
