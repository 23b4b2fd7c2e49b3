# Sourced by deploy/test-image.sh and deploy/test-compose.sh: podman with a configuration and a
# storage of its own under $WORK, as a sandboxed machine needs it: storage driver vfs (works on
# any filesystem, also inside a container), runc, cgroupfs, no default ulimits (setting rlimits
# may be refused). The Containerfiles and the compose file do not depend on any of it.
mkdir -p "$WORK"
chmod 711 "$WORK" # the postgres user of a host cluster reaches WORK/pg
cat >"$WORK/containers.conf" <<'CONF'
[containers]
default_ulimits = []
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
cat >"$WORK/storage.conf" <<CONF
[storage]
driver = "vfs"
graphroot = "$WORK/storage"
runroot = "$WORK/run"
CONF
export CONTAINERS_CONF=$WORK/containers.conf CONTAINERS_STORAGE_CONF=$WORK/storage.conf

# Without systemd, podman says on each start and stop that it cannot time the health checks;
# the tests run the checks themselves, so that complaint is filtered out.
no_timers() { "$@" 2> >(grep -v 'systemd connection' >&2); }
