#!/usr/bin/env bash
# Installs and starts the engines ctstation drives on this machine, with small
# sample images, for the tests and for scripts/serve.sh.
#
#   scripts/local-engines.sh [--verify] [--no-services]
#
# --no-services skips the checks of RabbitMQ and PostgreSQL, which only the tests
# need (the single-process service uses neither).
#
# Idempotent: a second run while everything is up only checks and changes
# nothing; a run after the daemons were killed (-9) restarts them. Images are
# built only when missing, and the engine smoke tests (pull through the mirror,
# LXD launch/stop/copy, catalog import) run right after a build or with --verify.
# Logs: /var/log/ctstation-test/   State: /var/lib/ctstation-test/
# On success it touches /var/lib/ctstation-test/ready and prints one summary
# line per component on stdout (progress goes to stderr).
set -euo pipefail

STATE=/var/lib/ctstation-test
LOGS=/var/log/ctstation-test
RUN=$STATE/run                        # pid files of the daemons started here

REGISTRY_ADDR=127.0.0.1:5000
REGISTRY_DIR=$STATE/registry
REGISTRY_CONFIG=$STATE/registry.yml
LOCAL_IMAGE=ctstation-local/box:latest  # never pushed
BUSYBOX_TAG=1.35                        # pushed as library/busybox:{latest,1.35}

LXD_BRIDGE=ctsbr0
LXD_BRIDGE_ADDR=10.99.0.1/24
LXD_ALIAS=busybox

CATALOG_DIR=$STATE/catalog
CATALOG_URL=http://127.0.0.1:8780

ARCH=$(uname -m)
PY=/usr/bin/python3                   # Debian's python, not whatever pyenv/venv is on PATH
PACKAGES=(docker.io docker-registry lxd dnsmasq-base busybox-static curl python3 iptables)

# The test image config. CMD traps TERM so that `docker stop` returns at once.
DOCKER_CHANGES=(
  -c 'CMD ["sh","-c","trap '\''exit 0'\'' TERM; while :; do sleep 1; done"]'
  -c 'ENV TESTBOX=1'
  -c 'EXPOSE 80/tcp'
  -c 'WORKDIR /'
  -c 'LABEL org.ctstation.test=busybox'
)

VERIFY=0
SERVICES=1
for arg in "$@"; do
  case $arg in
    --verify) VERIFY=1 ;;
    --no-services) SERVICES=0 ;;
    *) echo "usage: $0 [--verify] [--no-services]" >&2; exit 2 ;;
  esac
done

SUMMARY=()
log() { printf '[local-engines] %s\n' "$*" >&2; }
die() { printf '[local-engines] ERROR: %s\n' "$*" >&2; exit 1; }
summary() { SUMMARY+=("$(printf '%-9s %s' "$1" "$2")"); }

# wait_for SECONDS WHAT CMD...: poll CMD until it succeeds.
wait_for() {
  local timeout=$1 what=$2 deadline=$((SECONDS + $1))
  shift 2
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || die "$what did not answer within ${timeout}s"
    sleep 0.2
  done
}

# start_detached NAME LOGFILE CMD...: run CMD in its own session, out of our
# cwd, without our stdio or lock fd (so callers capturing our output and
# later runs waiting for the lock are not held up by the daemon).
start_detached() {
  local name=$1 logfile=$2
  shift 2
  (cd / && exec setsid "$@") >>"$logfile" 2>&1 </dev/null 9>&- &
  echo $! >"$RUN/$name.pid"
}

# alive PID NAME: PID is a running NAME. A killed daemon can stay a zombie
# for a while (nothing reaps it promptly here): that does not count.
alive() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  [[ $stat == "$1 ($2) "[^Z]* ]]
}

# write_if_changed FILE < CONTENT: keeps the file untouched when equal.
write_if_changed() {
  local tmp
  tmp=$(mktemp "$1.XXXXXX")
  cat >"$tmp"
  chmod 644 "$tmp"
  if cmp -s "$tmp" "$1"; then rm -f "$tmp"; else mv "$tmp" "$1"; fi
}

# ---------------------------------------------------------------- packages --

ensure_packages() {
  local pkg missing=()
  for pkg in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || missing+=("$pkg")
  done
  if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    # Only refresh the package lists when something is actually missing.
    apt-get update -q >>"$LOGS/apt.log" 2>&1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >>"$LOGS/apt.log" 2>&1 \
      || die "apt-get install ${missing[*]} failed (see $LOGS/apt.log)"
  fi
  summary packages "ok: ${PACKAGES[*]}"
}

# ---------------------------------------------------- image building helpers --
# Shared by the Docker images, the local LXD image and the catalog images.

# make_busybox_root DIR NAME: a minimal bootable busybox root (all applets
# linked at their usual paths, sbin/init included). NAME goes to
# /etc/ctstation-image so that otherwise identical images get different
# layers/fingerprints (brokenbox vs busybox, catalog vs local LXD image).
make_busybox_root() {
  local root=$1 name=$2 applet
  mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,usr/share/udhcpc,etc/init.d,dev,proc,sys,run,root,tmp,var/log}
  chmod 1777 "$root/tmp"
  cp /bin/busybox "$root/bin/busybox"   # busybox-static: no libraries needed
  for applet in $(/bin/busybox --list-full); do   # bin/sh, sbin/init, usr/bin/wget...
    if [[ $applet == */* && ! -L $root/$applet && ! -e $root/$applet ]]; then
      ln -s /bin/busybox "$root/$applet"
    fi
  done
  printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' >"$root/etc/passwd"
  printf '%s\n' 'root:x:0:' 'nogroup:x:65534:' >"$root/etc/group"
  echo "$name" >"$root/etc/ctstation-image"

  # busybox init already treats SIGPWR (LXD's stop signal) as "halt": it runs
  # the shutdown lines, TERMs then KILLs everything and exits (~2.5 s). The
  # explicit inittab only replaces the default tty2-4 getty noise and brings
  # the network up so that LXD containers get a DHCP address like real images.
  cat >"$root/etc/inittab" <<'EOF'
::sysinit:/etc/init.d/rcS
::askfirst:-/bin/sh
::shutdown:/bin/sync
EOF
  cat >"$root/etc/init.d/rcS" <<'EOF'
#!/bin/sh
ip link set lo up
[ -d /sys/class/net/eth0 ] && udhcpc -b -S -i eth0 -s /usr/share/udhcpc/default.script >/dev/null 2>&1
exit 0
EOF
  cat >"$root/usr/share/udhcpc/default.script" <<'EOF'
#!/bin/sh
# Apply the DHCP lease given by udhcpc.
case "$1" in
  deconfig) ip -4 addr flush dev "$interface"; ip link set "$interface" up ;;
  bound|renew)
    ip -4 addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    for r in $router; do ip route replace default via "$r" dev "$interface"; break; done ;;
esac
exit 0
EOF
  chmod 755 "$root/etc/init.d/rcS" "$root/usr/share/udhcpc/default.script"
}

tar_root() { tar -C "$1" --numeric-owner --owner=0 --group=0 -c .; }

# docker_import_root ROOT TAG: import ROOT as an image with the test config.
docker_import_root() {
  tar_root "$1" | docker import "${DOCKER_CHANGES[@]}" - "$2" >/dev/null
}

# make_lxd_image OUTDIR ROOT DESCRIPTION EPOCH: split LXD image
# (OUTDIR/meta.tar.gz + OUTDIR/rootfs.tar.gz).
make_lxd_image() {
  local out=$1 root=$2 desc=$3 epoch=$4 meta
  meta=$(mktemp -d "$BUILD/meta.XXXXXX")
  cat >"$meta/metadata.yaml" <<EOF
architecture: $ARCH
creation_date: $epoch
properties:
  os: busybox
  release: "$BUSYBOX_TAG"
  description: $desc
EOF
  mkdir -p "$out"
  tar -C "$meta" -c metadata.yaml | gzip -n >"$out/meta.tar.gz"
  tar_root "$root" | gzip -n >"$out/rootfs.tar.gz"
}

# new_build_dir: scratch directory, removed when the script exits.
new_build_dir() { mktemp -d "$BUILD/root.XXXXXX"; }

# ---------------------------------------------------------------- registry --

registry_up() { curl -fs -m 3 -o /dev/null "http://$REGISTRY_ADDR/v2/"; }

start_registry() {
  mkdir -p "$REGISTRY_DIR"
  # No blob descriptor cache: deleting a blob's data file must take effect at once.
  write_if_changed "$REGISTRY_CONFIG" <<EOF
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: $REGISTRY_DIR
http:
  addr: $REGISTRY_ADDR
EOF
  local how="already running"
  if ! registry_up; then
    log "starting docker-registry on $REGISTRY_ADDR"
    start_detached registry "$LOGS/registry.log" docker-registry serve "$REGISTRY_CONFIG"
    wait_for 30 "docker-registry on $REGISTRY_ADDR (see $LOGS/registry.log)" registry_up
    how=started
  fi
  summary registry "$how: http://$REGISTRY_ADDR (config $REGISTRY_CONFIG, storage $REGISTRY_DIR)"
}

registry_manifest() { # REPO TAG
  curl -fsS -m 10 -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
    "http://$REGISTRY_ADDR/v2/$1/manifests/$2"
}
# manifest_digests KEY: "layers" or "config" digests of the manifest on stdin.
manifest_digests() {
  "$PY" -c 'import json, sys
m = json.load(sys.stdin)
for d in ([m["config"]] if sys.argv[1] == "config" else m["layers"]): print(d["digest"])' "$1"
}
registry_has_blob() { curl -fsS -m 10 -o /dev/null -I "http://$REGISTRY_ADDR/v2/$1/blobs/$2"; }
blob_data_file() { local hex=${1#sha256:}; echo "$REGISTRY_DIR/docker/registry/v2/blobs/sha256/${hex:0:2}/$hex/data"; }

# registry_image_complete REPO TAG: manifest served and every blob present.
registry_image_complete() {
  local manifest digest
  manifest=$(registry_manifest "$1" "$2" 2>/dev/null) || return 1
  for digest in $(manifest_digests config <<<"$manifest") $(manifest_digests layers <<<"$manifest"); do
    registry_has_blob "$1" "$digest" || return 1
  done
}

# ------------------------------------------------------------------ dockerd --

docker_up() { timeout 10 docker info >/dev/null 2>&1; }

# remove_stale_pidfile FILE NAME: drop FILE when its pid no longer runs NAME.
remove_stale_pidfile() {
  local pid
  [[ -s $1 ]] || return 0
  pid=$(<"$1")
  alive "$pid" "$2" && return 0
  log "removing stale $1 (pid $pid is gone)"
  rm -f "$1"
}

start_dockerd() {
  local how="already running" pidfile=/var/run/docker.pid
  if ! docker_up; then
    # A killed dockerd leaves its pid file ("pid file found" on the next
    # start), and its containerd's: the new dockerd would wait for that
    # containerd (even a zombie) and time out.
    remove_stale_pidfile "$pidfile" dockerd
    remove_stale_pidfile /var/run/docker/containerd/containerd.pid containerd
    if [[ -e $pidfile ]]; then
      log "dockerd (pid $(<"$pidfile")) is alive but not answering yet; waiting"
    else
      log "starting dockerd"
      start_detached dockerd "$LOGS/dockerd.log" dockerd --registry-mirror="http://$REGISTRY_ADDR"
      how=started
    fi
    wait_for 60 "dockerd (see $LOGS/dockerd.log)" docker_up
  fi
  docker info --format '{{json .RegistryConfig.Mirrors}}' | grep -qF "http://$REGISTRY_ADDR/" \
    || die "dockerd is running without --registry-mirror=http://$REGISTRY_ADDR; stop it (kill \$(cat $pidfile)) and re-run"
  summary dockerd "$how: $(docker info --format '{{.ServerVersion}}, {{.Driver}}, cgroup v{{.CgroupVersion}}'), mirror http://$REGISTRY_ADDR"
}

# ------------------------------------------------------------ docker images --

# push_as SOURCE REPO TAG: push SOURCE to the registry as REPO:TAG, then drop
# the 127.0.0.1:5000 tag again.
push_as() {
  docker tag "$1" "$REGISTRY_ADDR/$2:$3"
  docker push -q "$REGISTRY_ADDR/$2:$3" >/dev/null
  docker rmi "$REGISTRY_ADDR/$2:$3" >/dev/null
}

ensure_docker_images() {
  local built=0 root tag digest manifest busybox_layers
  if ! docker image inspect "$LOCAL_IMAGE" >/dev/null 2>&1; then
    log "building $LOCAL_IMAGE"
    root=$(new_build_dir)
    make_busybox_root "$root" busybox
    docker_import_root "$root" "$LOCAL_IMAGE"
    built=1
  fi
  for tag in latest "$BUSYBOX_TAG"; do
    if ! registry_image_complete library/busybox "$tag"; then
      log "pushing library/busybox:$tag"
      push_as "$LOCAL_IMAGE" library/busybox "$tag"
      built=1
    fi
  done

  # brokenbox: its own layer (different /etc/ctstation-image), pushed once and
  # never kept locally, or a pull would find the layer and succeed.
  if ! registry_manifest library/brokenbox latest >/dev/null 2>&1; then
    log "pushing library/brokenbox:latest"
    root=$(new_build_dir)
    make_busybox_root "$root" brokenbox
    docker_import_root "$root" "$REGISTRY_ADDR/library/brokenbox:latest"
    docker push -q "$REGISTRY_ADDR/library/brokenbox:latest" >/dev/null
    docker rmi "$REGISTRY_ADDR/library/brokenbox:latest" >/dev/null
    built=1
  fi
  # pullbox: a healthy image with a layer of its own, so that a test which removes
  # its local copy sees a real download (busybox shares its layer with the local
  # image, and a pull of it finds every layer present).
  if ! registry_image_complete library/pullbox latest; then
    log "pushing library/pullbox:latest"
    root=$(new_build_dir)
    make_busybox_root "$root" pullbox
    docker_import_root "$root" "$REGISTRY_ADDR/library/pullbox:latest"
    docker push -q "$REGISTRY_ADDR/library/pullbox:latest" >/dev/null
    docker rmi "$REGISTRY_ADDR/library/pullbox:latest" >/dev/null
    built=1
  fi

  # Delete brokenbox's layer data (not its config, not the manifest).
  manifest=$(registry_manifest library/brokenbox latest)
  busybox_layers=$(registry_manifest library/busybox latest | manifest_digests layers)
  for digest in $(manifest_digests layers <<<"$manifest"); do
    grep -qxF "$digest" <<<"$busybox_layers" && die "brokenbox shares layer $digest with busybox"
    rm -f "$(blob_data_file "$digest")"
    ! registry_has_blob library/brokenbox "$digest" 2>/dev/null || die "registry still serves brokenbox layer $digest"
  done
  registry_has_blob library/brokenbox "$(manifest_digests config <<<"$manifest")" \
    || die "brokenbox config blob is missing from the registry"

  # No leftovers that would let a pull be served locally instead of by the mirror.
  docker images --format '{{.Repository}}:{{.Tag}}' \
    | { grep -E "^($REGISTRY_ADDR/|(docker\.io/)?(library/)?brokenbox:)" || true; } \
    | xargs -r docker rmi >/dev/null

  # Cheap proof that containers really run (runc, overlay2, cgroups).
  docker run --rm "$LOCAL_IMAGE" sh -c 'test "$TESTBOX" = 1' \
    || die "docker run --rm $LOCAL_IMAGE failed (see $LOGS/dockerd.log)"
  if ((built || VERIFY)); then verify_docker; fi
  summary images "$LOCAL_IMAGE (local only); $REGISTRY_ADDR/library/busybox:{latest,$BUSYBOX_TAG}; library/pullbox:latest; library/brokenbox:latest (layer blob deleted)"
}

verify_docker() {
  local t0 out
  log "verifying docker: pull through the mirror, broken pull, fast stop"
  docker rmi "busybox:$BUSYBOX_TAG" >/dev/null 2>&1 || true
  docker pull -q "busybox:$BUSYBOX_TAG" >/dev/null || die "docker pull busybox:$BUSYBOX_TAG via the mirror failed"
  docker rmi "busybox:$BUSYBOX_TAG" >/dev/null
  if out=$(docker pull brokenbox 2>&1); then die "docker pull brokenbox unexpectedly succeeded"; fi
  docker image inspect brokenbox >/dev/null 2>&1 && die "brokenbox is present locally after a failed pull"
  # The mirror answers "blob unknown" for the layer; dockerd then falls back
  # to registry-1.docker.io, so the message the client sees is that fallback's.
  log "  docker pull brokenbox fails as wanted: $(tail -n1 <<<"$out")"
  docker rm -f ctstation-verify >/dev/null 2>&1 || true
  docker run -d --name ctstation-verify "$LOCAL_IMAGE" >/dev/null
  t0=$SECONDS
  docker stop ctstation-verify >/dev/null
  docker rm ctstation-verify >/dev/null
  ((SECONDS - t0 <= 3)) || die "docker stop of the test image took $((SECONDS - t0))s"
}

# --------------------------------------------------------------------- LXD --

lxd_up() { timeout 10 lxc query /1.0 >/dev/null 2>&1; }

lxd_initialised() {
  lxc storage show default >/dev/null 2>&1 &&
    lxc network show "$LXD_BRIDGE" >/dev/null 2>&1 &&
    [[ $(lxc profile device get default root pool 2>/dev/null) == default ]] &&
    [[ $(lxc profile device get default eth0 network 2>/dev/null) == "$LXD_BRIDGE" ]]
}

start_lxd() {
  local how="already running"
  if ! lxd_up; then
    log "starting lxd"
    start_detached lxd "$LOGS/lxd.out" lxd --group root --logfile "$LOGS/lxd.log"
    lxd waitready --timeout 60 || die "lxd did not become ready within 60s (see $LOGS/lxd.log)"
    how=started
  fi
  if ! lxd_initialised; then
    # `lxd init --auto` cannot find a free subnet here: use an explicit one.
    log "initialising lxd (pool default, bridge $LXD_BRIDGE)"
    lxd init --preseed <<EOF
config: {}
storage_pools:
- name: default
  driver: dir
networks:
- name: $LXD_BRIDGE
  type: bridge
  config:
    ipv4.address: $LXD_BRIDGE_ADDR
    ipv4.nat: "false"
    ipv6.address: none
profiles:
- name: default
  devices:
    root: {path: /, pool: default, type: disk}
    eth0: {name: eth0, network: $LXD_BRIDGE, type: nic}
EOF
  fi
  # Docker sets the FORWARD policy to DROP and br_netfilter makes bridged
  # frames go through it: without this, LXD containers cannot talk to each other.
  iptables -C DOCKER-USER -i "$LXD_BRIDGE" -o "$LXD_BRIDGE" -j ACCEPT 2>/dev/null \
    || iptables -I DOCKER-USER -i "$LXD_BRIDGE" -o "$LXD_BRIDGE" -j ACCEPT
  summary lxd "$how: $(lxd --version), pool default (dir), bridge $LXD_BRIDGE $LXD_BRIDGE_ADDR"
}

ensure_lxd_image() {
  local root out fp
  if ! lxc query "/1.0/images/aliases/$LXD_ALIAS" >/dev/null 2>&1; then
    log "importing LXD image alias $LXD_ALIAS"
    root=$(new_build_dir)
    out=$(new_build_dir)
    make_busybox_root "$root" busybox-lxd
    make_lxd_image "$out" "$root" "BusyBox $BUSYBOX_TAG test image" "$(date +%s)"
    lxc image import "$out/meta.tar.gz" "$out/rootfs.tar.gz" --alias "$LXD_ALIAS" >/dev/null
    verify_lxd
  elif ((VERIFY)); then
    verify_lxd
  fi
  fp=$(lxc query "/1.0/images/aliases/$LXD_ALIAS" | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["target"][:12])')
  summary lxd-image "alias $LXD_ALIAS (fingerprint $fp)"
}

lxd_status() { lxc list "^$1\$" -c s -f csv; }
lxd_ipv4() { lxc list "^$1\$" -c 4 -f csv | cut -d' ' -f1; }
lxd_has_ipv4() { [[ -n $(lxd_ipv4 "$1") ]]; }

verify_lxd() {
  local a=ctstation-verify-1 b=ctstation-verify-2 t0 ip
  log "verifying lxd: launch, 10 s running, exec, stop, copy, networking"
  lxc delete -f "$a" "$b" >/dev/null 2>&1 || true
  lxc launch -q "$LXD_ALIAS" "$a"
  sleep 10
  [[ $(lxd_status "$a") == RUNNING ]] || die "LXD container $a did not stay RUNNING"
  [[ $(lxc exec "$a" -- hostname) == "$a" ]] || die "lxc exec $a -- hostname failed"
  t0=$SECONDS
  lxc stop "$a" --timeout 30 || die "lxc stop $a did not halt cleanly"
  ((SECONDS - t0 <= 10)) || die "lxc stop $a took $((SECONDS - t0))s"
  lxc copy "$a" "$b"
  lxc start "$a" "$b"
  wait_for 15 "DHCP address of $b" lxd_has_ipv4 "$b"
  ip=$(lxd_ipv4 "$b")
  wait_for 15 "$a -> $b ping" lxc exec "$a" -- ping -c1 -W1 "$ip"
  lxc delete -f "$a" "$b"
}

# ----------------------------------------------------------------- catalog --

catalog_complete() {
  [[ -s $CATALOG_DIR/index.json &&
    -s $CATALOG_DIR/busybox-latest/meta.tar.gz && -s $CATALOG_DIR/busybox-latest/rootfs.tar.gz &&
    -s $CATALOG_DIR/broken-latest/meta.tar.gz && ! -e $CATALOG_DIR/broken-latest/rootfs.tar.gz ]]
}

build_catalog() {
  local root epoch
  log "building the image catalog in $CATALOG_DIR"
  epoch=$(date +%s)
  root=$(new_build_dir)
  make_busybox_root "$root" busybox-catalog
  make_lxd_image "$CATALOG_DIR/busybox-latest" "$root" "BusyBox $BUSYBOX_TAG (appcenter catalog)" "$epoch"
  make_lxd_image "$CATALOG_DIR/broken-latest" "$root" "Broken image (rootfs missing on the server)" "$epoch"
  # Fingerprint = sha256(metadata bytes + rootfs bytes), as LXD computes it.
  "$PY" - "$CATALOG_DIR" "$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)" "$ARCH" "$BUSYBOX_TAG" <<'PY'
import hashlib, json, os, sys
catalog, created, arch, release = sys.argv[1:]
def entry(name, description):
    meta, rootfs = f"{name}-latest/meta.tar.gz", f"{name}-latest/rootfs.tar.gz"
    h, size = hashlib.sha256(), 0
    for rel in (meta, rootfs):
        data = open(os.path.join(catalog, rel), "rb").read()
        h.update(data)
        size += len(data)
    return {"name": name, "tag": "latest", "architecture": arch, "os": "busybox",
            "release": release, "description": description, "created": created,
            "metadata": meta, "rootfs": rootfs, "fingerprint": h.hexdigest(), "size": size}
index = {"images": [entry("busybox", f"BusyBox {release} test image (importable)"),
                    entry("broken", "Broken test image: its rootfs is missing on the server")]}
with open(os.path.join(catalog, "index.json.tmp"), "w") as f:
    json.dump(index, f, indent=2)
os.replace(os.path.join(catalog, "index.json.tmp"), os.path.join(catalog, "index.json"))
PY
  rm -f "$CATALOG_DIR/broken-latest/rootfs.tar.gz"
}

catalog_http_code() { curl -s -m 3 -o /dev/null -w '%{http_code}' "$CATALOG_URL/$1" || true; }

start_catalog() {
  local built=0 how="already running"
  mkdir -p "$CATALOG_DIR"
  catalog_complete || { build_catalog; built=1; }
  if [[ $(catalog_http_code "") == 000 ]]; then
    log "starting the catalog server on $CATALOG_URL"
    start_detached catalog "$LOGS/catalog.log" "$PY" -m http.server --bind 127.0.0.1 8780 --directory "$CATALOG_DIR"
    wait_for 15 "catalog server (see $LOGS/catalog.log)" curl -fsS -m 2 -o /dev/null "$CATALOG_URL/index.json"
    how=started
  fi
  [[ $(catalog_http_code index.json) == 200 ]] || die "port 8780 answers but does not serve $CATALOG_DIR/index.json"
  [[ $(catalog_http_code broken-latest/rootfs.tar.gz) == 404 ]] || die "the broken catalog entry's rootfs must answer 404"
  if ((built || VERIFY)); then verify_catalog; fi
  summary catalog "$how: $CATALOG_URL/index.json (busybox/latest, broken/latest)"
}

# Import the catalog's busybox pair as a client would, compare fingerprints,
# then delete it so the catalog image is not pre-present in LXD.
verify_catalog() {
  local dir want got
  log "verifying the catalog: lxc image import of busybox/latest"
  dir=$(new_build_dir)
  curl -fsS -m 10 -o "$dir/index.json" "$CATALOG_URL/index.json"
  want=$("$PY" -c 'import json, sys; print(next(i["fingerprint"] for i in json.load(open(sys.argv[1]))["images"] if i["name"] == "busybox"))' "$dir/index.json")
  curl -fsS -m 30 -o "$dir/meta.tar.gz" "$CATALOG_URL/busybox-latest/meta.tar.gz"
  curl -fsS -m 30 -o "$dir/rootfs.tar.gz" "$CATALOG_URL/busybox-latest/rootfs.tar.gz"
  lxc image delete "$want" >/dev/null 2>&1 || true
  got=$(lxc image import "$dir/meta.tar.gz" "$dir/rootfs.tar.gz" | sed -n 's/.*fingerprint: *//p')
  lxc image delete "$got"
  [[ $got == "$want" ]] || die "catalog fingerprint $want but LXD computed $got"
}

# ------------------------------------------------------ RabbitMQ, Postgres --

amqp_answers() {
  "$PY" -c 'import socket
s = socket.create_connection(("127.0.0.1", 5672), 3)
s.sendall(b"AMQP\0\0\x09\x01")
assert s.recv(1) == b"\x01"' 2>/dev/null
}

check_rabbitmq() {
  local how="running"
  if ! amqp_answers; then
    command -v rabbitmq-server >/dev/null \
      || die "RabbitMQ is missing: install rabbitmq-server (tests need 127.0.0.1:5672, guest/guest)"
    log "starting RabbitMQ"
    rabbitmq-server -detached >>"$LOGS/rabbitmq.log" 2>&1 9>&- || true
    wait_for 90 "RabbitMQ on 127.0.0.1:5672 (see $LOGS/rabbitmq.log and /var/log/rabbitmq)" amqp_answers
    how=started
  fi
  summary rabbitmq "$how: amqp://guest:guest@127.0.0.1:5672/"
}

check_postgres() {
  local how="running" version
  command -v pg_isready >/dev/null || die "PostgreSQL client tools are missing (pg_isready, psql)"
  if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n1) || true
    [[ -n $version ]] && command -v pg_ctlcluster >/dev/null \
      || die "PostgreSQL is missing: no cluster in /etc/postgresql (tests need 127.0.0.1:5432, trust auth, database test)"
    log "starting PostgreSQL $version/main"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start >>"$LOGS/postgres.log" 2>&1 9>&- || true
    wait_for 60 "PostgreSQL on 127.0.0.1:5432 (see $LOGS/postgres.log)" pg_isready -q -h 127.0.0.1 -p 5432
    how=started
  fi
  psql -h 127.0.0.1 -U postgres -d test -Atqc 'select 1' >/dev/null 2>&1 \
    || die "PostgreSQL answers but database 'test' is not reachable as postgres with trust auth (createdb -h 127.0.0.1 -U postgres test?)"
  summary postgres "$how: postgresql://postgres@127.0.0.1:5432/test"
}

# -------------------------------------------------------------------- main --

mkdir -p "$STATE" "$LOGS" "$RUN"
exec 9>"$STATE/.lock"
flock -w 600 9 || die "another local-engines.sh run holds $STATE/.lock"
rm -f "$STATE/ready"
mkdir -p "$STATE/build"
BUILD=$(mktemp -d "$STATE/build/run.XXXXXX")
trap 'rm -rf "$BUILD"' EXIT

ensure_packages
start_registry
start_dockerd
ensure_docker_images
start_lxd
ensure_lxd_image
start_catalog
if ((SERVICES)); then
  check_rabbitmq
  check_postgres
fi

touch "$STATE/ready"
printf '%s\n' "${SUMMARY[@]}"
