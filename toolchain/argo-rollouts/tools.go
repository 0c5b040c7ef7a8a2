//go:build tools

// Package tools pins the Argo Rollouts controller's main package so `go mod tidy` keeps its dependencies.
package tools

import _ "github.com/argoproj/argo-rollouts/cmd/rollouts-controller"
