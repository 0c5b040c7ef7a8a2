//go:build tools

// Package tools pins the provider packages so `go mod tidy` keeps their dependencies.
package tools

import (
	_ "github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	_ "github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
)
