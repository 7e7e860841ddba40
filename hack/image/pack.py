#!/usr/bin/env python3
"""Packs a root filesystem folder as a one-layer image tarball, with no Docker engine or registry.

The tarball is both a docker-archive (manifest.json, what `docker load` reads) and an OCI image
layout (oci-layout, index.json, blobs/sha256/...); `ctr images import` takes either. It is
deterministic: entries sorted, every mtime SOURCE_DATE_EPOCH (default 0), owner root unless the
file is under a --chown path, no host user or group names, so the same folder gives the same bytes.

The image configuration (user, entrypoint, cmd, env, working directory) is given with flags, or
read from the final stage of a Dockerfile with --dockerfile, so `make image` and `docker build`
give the image the same configuration from one place.
"""

import argparse
import hashlib
import io
import json
import os
import shlex
import stat
import sys
import tarfile

epoch = int(os.environ.get("SOURCE_DATE_EPOCH", "0"))


def canonical_json(value):
    """JSON with sorted keys and no spaces: the same value always gives the same bytes and digest."""
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def dockerfile_config(path):
    """USER, ENTRYPOINT, CMD, ENV and WORKDIR of the Dockerfile's last stage (exec and key=value forms)."""
    config = {}
    lines = []
    with open(path) as f:
        pending = ""
        for raw in f:
            line = raw.rstrip("\n")
            if not pending and line.lstrip().startswith("#"):
                continue
            if line.endswith("\\"):
                pending += line[:-1] + " "
                continue
            lines.append(pending + line)
            pending = ""
    for line in lines:
        words = line.strip().split(None, 1)
        if not words:
            continue
        instruction, rest = words[0].upper(), (words[1] if len(words) > 1 else "")
        if instruction == "FROM":
            config = {}
        elif instruction == "USER":
            config["User"] = rest.strip()
        elif instruction in ("ENTRYPOINT", "CMD"):
            key = "Entrypoint" if instruction == "ENTRYPOINT" else "Cmd"
            config[key] = json.loads(rest)
        elif instruction == "WORKDIR":
            config["WorkingDir"] = rest.strip()
        elif instruction == "ENV":
            env = config.setdefault("Env", [])
            for pair in shlex.split(rest):
                name = pair.split("=", 1)[0]
                env[:] = [e for e in env if e.split("=", 1)[0] != name] + [pair]
    return config


def layer_bytes(root, chown):
    """The root folder as an uncompressed tar, deterministic."""
    buffer = io.BytesIO()
    entries = []
    for directory, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            full = os.path.join(directory, name)
            entries.append(os.path.relpath(full, root))
    entries.sort()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for relative in entries:
            full = os.path.join(root, relative)
            st = os.lstat(full)
            info = tarfile.TarInfo(relative)
            info.mtime = epoch
            owned = any(relative == p or relative.startswith(p + "/") for p in chown["paths"])
            info.uid, info.gid = (chown["uid"], chown["gid"]) if owned else (0, 0)
            info.uname = info.gname = ""
            info.mode = stat.S_IMODE(st.st_mode)
            if stat.S_ISDIR(st.st_mode):
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif stat.S_ISLNK(st.st_mode):
                info.type = tarfile.SYMTYPE
                info.linkname = os.readlink(full)
                tar.addfile(info)
            elif stat.S_ISREG(st.st_mode):
                info.size = st.st_size
                with open(full, "rb") as f:
                    tar.addfile(info, f)
            else:
                sys.exit(f"pack.py: {full}: only folders, files and symlinks can go in an image")
    return buffer.getvalue()


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", required=True, help="root filesystem folder")
    parser.add_argument("--tag", action="append", required=True, help="repository:tag (repeatable)")
    parser.add_argument("--output", required=True)
    parser.add_argument("--dockerfile", help="take the configuration from this Dockerfile's last stage")
    parser.add_argument("--entrypoint", help="a single executable path")
    parser.add_argument("--user")
    parser.add_argument("--chown", default="", help="uid:gid:path,path... owned by uid:gid, not root")
    args = parser.parse_args()

    config = dockerfile_config(args.dockerfile) if args.dockerfile else {}
    if args.entrypoint:
        config["Entrypoint"] = [args.entrypoint]
    if args.user:
        config["User"] = args.user
    chown = {"uid": 0, "gid": 0, "paths": []}
    if args.chown:
        uid, gid, paths = args.chown.split(":", 2)
        chown = {"uid": int(uid), "gid": int(gid), "paths": [p.strip("/") for p in paths.split(",")]}

    layer = layer_bytes(args.root, chown)
    layer_digest = sha256(layer)
    image_config = canonical_json(
        {
            "architecture": "amd64",
            "os": "linux",
            "created": "1970-01-01T00:00:00Z",
            "config": config,
            "rootfs": {"type": "layers", "diff_ids": [f"sha256:{layer_digest}"]},
            "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "hack/image/pack.py"}],
        }
    )
    config_digest = sha256(image_config)
    manifest = canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": f"sha256:{config_digest}",
                "size": len(image_config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": f"sha256:{layer_digest}",
                    "size": len(layer),
                }
            ],
        }
    )
    manifest_digest = sha256(manifest)
    index = canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [
                {
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": f"sha256:{manifest_digest}",
                    "size": len(manifest),
                    "annotations": {"io.containerd.image.name": tag, "org.opencontainers.image.ref.name": tag.rsplit(":", 1)[1]},
                }
                for tag in args.tag
            ],
        }
    )
    docker_manifest = canonical_json(
        [
            {
                "Config": f"blobs/sha256/{config_digest}",
                "RepoTags": args.tag,
                "Layers": [f"blobs/sha256/{layer_digest}"],
            }
        ]
    )

    files = [
        ("blobs", None),
        ("blobs/sha256", None),
        (f"blobs/sha256/{config_digest}", image_config),
        (f"blobs/sha256/{layer_digest}", layer),
        (f"blobs/sha256/{manifest_digest}", manifest),
        ("index.json", index),
        ("manifest.json", docker_manifest),
        ("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'),
    ]
    partial = args.output + ".partial"
    with tarfile.open(partial, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.mtime = epoch
            if data is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            else:
                info.size, info.mode = len(data), 0o644
                tar.addfile(info, io.BytesIO(data))
    os.replace(partial, args.output)
    print(f"{args.output}: sha256:{manifest_digest} ({len(layer) / 1e6:.1f} MB uncompressed)", file=sys.stderr)


if __name__ == "__main__":
    main()
