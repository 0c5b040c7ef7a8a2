# Source this file to use the project's own toolchain: `. scripts/env.sh`.
# It puts the Pulumi CLI, our Python language host and its shims first on PATH and keeps Pulumi's
# plugins and settings inside the git-ignored .tools folder.
_root="$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/.." && pwd)"
export TONSURANCE_ROOT="$_root"
export PATH="$_root/.tools/bin:$_root/.venv/bin:$PATH"
export PULUMI_HOME="$_root/.tools/pulumi-home"
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
unset _root
