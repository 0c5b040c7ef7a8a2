// Command pulumi-language-python is Tonsurance Deploy's Python language host for the Pulumi engine.
//
// Pulumi's own host (module github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3) is not
// served by the Go module proxy reachable here, so we build this small one from the pinned sdk/v3
// module instead. It implements what our program needs: run the program in the project virtualenv
// through the SDK's pulumi-language-python-exec launcher, run Python plugins such as our policy pack
// (RunPlugin), and report plugin information. Dependencies
// are installed by scripts/bootstrap, never by the engine.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"google.golang.org/grpc"
	pbempty "google.golang.org/protobuf/types/known/emptypb"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/version"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// The launcher exits with this code after it has shown the user an actionable error.
const exitCodeUserActionableError = 32

type pythonHost struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
	engineAddress string
}

func main() {
	// The engine passes flags (which we do not need) and the engine address as the last argument.
	args := os.Args[1:]
	if len(args) == 0 || strings.HasPrefix(args[len(args)-1], "-") {
		fmt.Fprintln(os.Stderr, "usage: pulumi-language-python [flags] ENGINE_ADDRESS")
		os.Exit(2)
	}
	host := &pythonHost{engineAddress: args[len(args)-1]}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, host)
			return nil
		},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "could not start the language host: %v\n", err)
		os.Exit(1)
	}
	// The engine reads the port from our first line of output.
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fmt.Fprintf(os.Stderr, "language host stopped: %v\n", err)
		os.Exit(1)
	}
}

// virtualenvDir resolves runtime.options.virtualenv of Pulumi.yaml against the project root.
func virtualenvDir(info *pulumirpc.ProgramInfo) (string, error) {
	if info == nil || info.GetOptions() == nil {
		return "", errors.New("Pulumi.yaml must set runtime.options.virtualenv")
	}
	venv, ok := info.GetOptions().AsMap()["virtualenv"].(string)
	if !ok || venv == "" {
		return "", errors.New("Pulumi.yaml must set runtime.options.virtualenv")
	}
	if !filepath.IsAbs(venv) {
		venv = filepath.Join(info.GetRootDirectory(), venv)
	}
	if _, err := os.Stat(filepath.Join(venv, "bin", "python")); err != nil {
		return "", fmt.Errorf("virtualenv %s has no bin/python: run scripts/bootstrap", venv)
	}
	return venv, nil
}

// launcherPath finds pulumi-language-python-exec next to this binary, where scripts/bootstrap puts it.
func launcherPath() (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", err
	}
	launcher := filepath.Join(filepath.Dir(self), "pulumi-language-python-exec")
	if _, err := os.Stat(launcher); err != nil {
		return "", fmt.Errorf("%s is missing: run scripts/bootstrap", launcher)
	}
	return launcher, nil
}

// environWithVirtualenv returns the environment `base` with the virtualenv activated.
func environWithVirtualenv(base []string, venv string) []string {
	env := []string{}
	path := ""
	for _, kv := range base {
		if strings.HasPrefix(kv, "PATH=") {
			path = strings.TrimPrefix(kv, "PATH=")
		}
		if strings.HasPrefix(kv, "PYTHONHOME=") || strings.HasPrefix(kv, "PATH=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"VIRTUAL_ENV="+venv,
		"PULUMI_RUNTIME_VIRTUALENV="+venv,
		"PATH="+filepath.Join(venv, "bin")+string(os.PathListSeparator)+path,
	)
}

func (h *pythonHost) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	venv, err := virtualenvDir(req.GetInfo())
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	launcher, err := launcherPath()
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	program := req.GetProgram()
	if info := req.GetInfo(); info != nil && info.GetProgramDirectory() != "" {
		program = filepath.Join(info.GetProgramDirectory(), info.GetEntryPoint())
	}
	// The launcher expects a JSON object and array even for a stack without config.
	configMap, secretKeyList := req.GetConfig(), req.GetConfigSecretKeys()
	if configMap == nil {
		configMap = map[string]string{}
	}
	if secretKeyList == nil {
		secretKeyList = []string{}
	}
	config, err := json.Marshal(configMap)
	if err != nil {
		return nil, err
	}
	secretKeys, err := json.Marshal(secretKeyList)
	if err != nil {
		return nil, err
	}

	args := []string{"-u", launcher,
		"--project", req.GetProject(),
		"--root_directory", req.GetInfo().GetRootDirectory(),
		"--stack", req.GetStack(),
		"--pwd", req.GetPwd(),
		"--dry_run", strconv.FormatBool(req.GetDryRun()),
		"--parallel", strconv.Itoa(int(req.GetParallel())),
		"--monitor", req.GetMonitorAddress(),
		"--engine", h.engineAddress,
		"--organization", req.GetOrganization(),
		program,
	}
	cmd := exec.CommandContext(ctx, filepath.Join(venv, "bin", "python"), append(args, req.GetArgs()...)...)
	cmd.Dir = req.GetPwd()
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.Env = append(environWithVirtualenv(os.Environ(), venv),
		"PULUMI_CONFIG="+string(config),
		"PULUMI_CONFIG_SECRET_KEYS="+string(secretKeys),
	)
	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			if exitErr.ExitCode() == exitCodeUserActionableError {
				return &pulumirpc.RunResponse{Bail: true}, nil
			}
			return &pulumirpc.RunResponse{
				Error: fmt.Sprintf("Program exited with non-zero exit code: %d", exitErr.ExitCode()),
			}, nil
		}
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	return &pulumirpc.RunResponse{}, nil
}

// RunPlugin runs a plugin written in Python, such as the policy pack in policy/: the engine hands us the
// folder of its PulumiPolicy.yaml, whose runtime.options.virtualenv names the virtualenv. The program is
// the folder itself (`python -u DIR` runs its __main__.py), with the engine's arguments and environment.
// Its output goes back to the engine as it comes (an analyzer's first stdout line is its port), then its
// exit code.
func (h *pythonHost) RunPlugin(
	req *pulumirpc.RunPluginRequest, server grpc.ServerStreamingServer[pulumirpc.RunPluginResponse],
) error {
	info := req.GetInfo()
	venv, err := virtualenvDir(info)
	if err != nil {
		return err
	}
	program := req.GetProgram()
	if info.GetProgramDirectory() != "" {
		program = filepath.Join(info.GetProgramDirectory(), info.GetEntryPoint())
	}
	if program == "" {
		return errors.New("RunPlugin: no plugin program given")
	}
	python := filepath.Join(venv, "bin", "python")
	cmd := exec.CommandContext(server.Context(), python, append([]string{"-u", program}, req.GetArgs()...)...)
	cmd.Dir = req.GetPwd()
	base := req.GetEnv()
	if len(base) == 0 {
		base = os.Environ()
	}
	cmd.Env = environWithVirtualenv(base, venv)
	var sendMu sync.Mutex
	send := func(resp *pulumirpc.RunPluginResponse) error {
		sendMu.Lock()
		defer sendMu.Unlock()
		return server.Send(resp)
	}
	cmd.Stdout = streamWriter(func(b []byte) error {
		return send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stdout{Stdout: b}})
	})
	cmd.Stderr = streamWriter(func(b []byte) error {
		return send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stderr{Stderr: b}})
	})
	code := 0
	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) {
			return fmt.Errorf("could not run plugin %s: %w", program, err)
		}
		code = exitErr.ExitCode()
	}
	if server.Context().Err() != nil {
		return nil // the engine closed the plugin: nobody is listening for the exit code
	}
	return send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Exitcode{Exitcode: int32(code)}})
}

// streamWriter forwards each write (a copy: exec reuses its buffer) to send.
type streamWriter func([]byte) error

func (w streamWriter) Write(b []byte) (int, error) {
	if err := w(append([]byte(nil), b...)); err != nil {
		return 0, err
	}
	return len(b), nil
}

// Plugins are built by scripts/bootstrap; the engine loads them on first use, so none is announced here.
func (h *pythonHost) GetRequiredPackages(
	context.Context, *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	return &pulumirpc.GetRequiredPackagesResponse{}, nil
}

func (h *pythonHost) GetRequiredPlugins(
	context.Context, *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	return &pulumirpc.GetRequiredPluginsResponse{}, nil
}

func (h *pythonHost) GetPluginInfo(context.Context, *pbempty.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: strings.TrimPrefix(version.Version, "v")}, nil
}

// InstallDependencies only checks that the virtualenv exists: scripts/bootstrap owns installation.
func (h *pythonHost) InstallDependencies(
	req *pulumirpc.InstallDependenciesRequest,
	server grpc.ServerStreamingServer[pulumirpc.InstallDependenciesResponse],
) error {
	if _, err := virtualenvDir(req.GetInfo()); err != nil {
		return err
	}
	return server.Send(&pulumirpc.InstallDependenciesResponse{
		Stdout: []byte("Python dependencies are installed by scripts/bootstrap\n"),
	})
}

func (h *pythonHost) About(ctx context.Context, req *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	venv, err := virtualenvDir(req.GetInfo())
	if err != nil {
		return nil, err
	}
	python := filepath.Join(venv, "bin", "python")
	out, err := exec.CommandContext(ctx, python, "--version").Output()
	if err != nil {
		return nil, err
	}
	return &pulumirpc.AboutResponse{
		Executable: python,
		Version:    strings.TrimPrefix(strings.TrimSpace(string(out)), "Python "),
	}, nil
}

func (h *pythonHost) GetProgramDependencies(
	context.Context, *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	return &pulumirpc.GetProgramDependenciesResponse{}, nil
}
