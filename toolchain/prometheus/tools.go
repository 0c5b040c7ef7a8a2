//go:build tools

// Package tools pins the Prometheus server and promtool so `go mod tidy` keeps their dependencies; the
// bootstrap builds both in one `go build` of this module.
package tools

import (
	_ "github.com/prometheus/prometheus/cmd/prometheus"
	_ "github.com/prometheus/prometheus/cmd/promtool"
)
