//go:build tools

// Package tools pins Alertmanager and amtool so `go mod tidy` keeps their dependencies; the bootstrap builds
// both in one `go build` of this module.
package tools

import (
	_ "github.com/prometheus/alertmanager/cmd/alertmanager"
	_ "github.com/prometheus/alertmanager/cmd/amtool"
)
