//go:build tools

// Package tools pins actionlint (the GitHub Actions workflow linter) for scripts/bootstrap, which builds
// github.com/rhysd/actionlint/cmd/actionlint from this module into .tools/bin; the tests lint
// .github/workflows with it.
package tools

import _ "github.com/rhysd/actionlint/cmd/actionlint"
