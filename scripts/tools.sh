#!/usr/bin/env bash
# Builds the command-line tools CI and the deploy tests run (Helm, nats-server, Jaeger) with Go into a cache
# outside the repo, ${GRACE_TOOLS_DIR:-$HOME/.cache/grace/tools}/bin, so a fresh clone reuses them, then prints
# that folder. Each tool lives there as <name>-<version> with a <name> symlink; it is built only when the binary
# for its pinned version is missing (Go's build cache makes a rebuild after a version bump fast).
set -euo pipefail

# name          go install package                      version   -ldflags (optional, the rest of the row)
TOOLS=(
  "helm         helm.sh/helm/v4/cmd/helm                v4.3.2    -X helm.sh/helm/v4/internal/version.version=v4.3.2"
  "nats-server  github.com/nats-io/nats-server/v2       v2.15.3"
)

# Programs `go install` refuses (their go.mod has replace directives): each is built from a tool module of its own,
# made in a scratch folder (go mod init; go get -tool <package>@<version>; go build), never committed.
# name          package                                      version   -ldflags (optional, the rest of the row)
TOOL_MODULES=(
  "jaeger       github.com/jaegertracing/jaeger/cmd/jaeger   v1.75.0   -X github.com/jaegertracing/jaeger/internal/version.latestVersion=v1.75.0"
)

BIN="${GRACE_TOOLS_DIR:-$HOME/.cache/grace/tools}/bin"
mkdir -p "$BIN"

# Go 1.26 from /usr/local/go when it is there, else whatever `go` is on PATH.
GO=/usr/local/go/bin/go
[[ -x "$GO" ]] || GO="$(command -v go || true)"

for row in "${TOOLS[@]}"; do
  read -r name package version ldflags <<<"$row"
  binary="$BIN/$name-$version"
  if [[ ! -x "$binary" ]]; then
    if [[ -z "$GO" ]]; then
      echo "scripts/tools.sh: building $name $version needs Go (/usr/local/go/bin/go or go on PATH)" >&2
      exit 1
    fi
    echo "building $name $version ($package)" >&2
    # Install into a scratch GOBIN and rename: a half-built binary never carries the versioned name.
    scratch="$(mktemp -d "$BIN/.build-XXXXXX")"
    if ! GOBIN="$scratch" "$GO" install -ldflags="$ldflags" "$package@$version" >&2; then
      rm -rf "$scratch"
      exit 1
    fi
    mv -f "$scratch"/* "$binary" # go install leaves exactly one binary
    rm -rf "$scratch"
  fi
  ln -sfn "$name-$version" "$BIN/$name"
done

for row in "${TOOL_MODULES[@]}"; do
  read -r name package version ldflags <<<"$row"
  binary="$BIN/$name-$version"
  if [[ ! -x "$binary" ]]; then
    if [[ -z "$GO" ]]; then
      echo "scripts/tools.sh: building $name $version needs Go (/usr/local/go/bin/go or go on PATH)" >&2
      exit 1
    fi
    echo "building $name $version ($package, in a tool module of its own)" >&2
    scratch="$(mktemp -d "$BIN/.build-XXXXXX")"
    if ! (
      cd "$scratch" &&
        "$GO" mod init "grace-tools/$name" >&2 &&
        "$GO" get -tool "$package@$version" >&2 &&
        "$GO" build -ldflags="$ldflags" -o "$scratch/$name" "$package" >&2
    ); then
      rm -rf "$scratch"
      exit 1
    fi
    mv -f "$scratch/$name" "$binary"
    rm -rf "$scratch"
  fi
  ln -sfn "$name-$version" "$BIN/$name"
done

echo "$BIN"
