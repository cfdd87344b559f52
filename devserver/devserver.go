// Package devserver runs a complete Temporal server (frontend, history, matching and worker
// services) inside this process, persisted in one SQLite file, with the Temporal Web UI beside
// it. It is the only package that links go.temporal.io/server: the binary that imports it grows
// by ~200 MB and builds for minutes, so only the worker and the tests that need a real server
// import it.
package devserver

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	uiserver "github.com/temporalio/ui-server/v2/server"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	uiserveroptions "github.com/temporalio/ui-server/v2/server/server_options"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/membership/static"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/primitives"
	sqliteschema "go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Options configure an embedded server.
type Options struct {
	// DatabaseFile is the SQLite file holding workflow state; empty keeps everything in memory
	// (tests). The file and its schema are created on first start and reused afterwards.
	DatabaseFile string
	// FrontendAddr is the gRPC address clients dial, e.g. 127.0.0.1:7233. Port 0 picks one.
	FrontendAddr string
	// UIAddr serves the Temporal Web UI; empty runs no UI.
	UIAddr string
	// Namespace is created if missing.
	Namespace string
	// Retention keeps closed runs this long (default 7 days).
	Retention time.Duration
	// LogFile receives the server's own log (warnings and errors); empty discards it.
	LogFile string
}

// Server is a running embedded Temporal server.
type Server struct {
	server   temporal.Server
	ui       *uiserver.Server
	frontend string
	uiAddr   string
	logFile  *os.File
}

// Start builds and starts the server; it returns once the frontend accepts calls.
func Start(opts Options) (*Server, error) {
	if opts.Namespace == "" {
		return nil, errors.New("devserver: namespace required")
	}
	if opts.Retention == 0 {
		opts.Retention = 7 * 24 * time.Hour
	}
	host, port, err := splitHostPort(opts.FrontendAddr)
	if err != nil {
		return nil, fmt.Errorf("devserver: frontend address: %w", err)
	}
	if port == 0 {
		if port, err = freePort(host); err != nil {
			return nil, err
		}
	}
	s := &Server{frontend: net.JoinHostPort(host, strconv.Itoa(port))}

	var logger log.Logger = log.NewNoopLogger()
	if opts.LogFile != "" {
		if err := os.MkdirAll(filepath.Dir(opts.LogFile), 0o755); err != nil {
			return nil, err
		}
		s.logFile, err = os.OpenFile(opts.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, fmt.Errorf("devserver: log file: %w", err)
		}
		// The server logs a great deal at info; warnings are what an operator needs.
		zl := log.BuildZapLogger(log.Config{Level: "warn", OutputFile: opts.LogFile, Format: "json"})
		logger = log.NewZapLogger(zl)
	}

	conf, err := buildConfig(opts, host, port)
	if err != nil {
		s.closeLog()
		return nil, err
	}
	hosts := map[primitives.ServiceName]static.Hosts{}
	for name, svc := range conf.Services {
		hosts[primitives.ServiceName(name)] = static.SingleLocalHost(
			net.JoinHostPort(host, strconv.Itoa(svc.RPC.GRPCPort)))
	}
	dyn := dynamicconfig.StaticClient{
		dynamicconfig.HistoryCacheHostLevelMaxSize.Key():                 8096,
		dynamicconfig.FrontendMaxNamespaceVisibilityRPSPerInstance.Key(): 100,
	}
	srv, err := temporal.NewServer(
		temporal.WithConfig(conf),
		temporal.ForServices(temporal.DefaultServices),
		temporal.WithStaticHosts(hosts),
		temporal.WithLogger(logger),
		temporal.WithDynamicConfigClient(dyn),
	)
	if err != nil {
		s.closeLog()
		return nil, fmt.Errorf("devserver: build: %w", err)
	}
	if err := srv.Start(); err != nil {
		s.closeLog()
		return nil, fmt.Errorf("devserver: start: %w", err)
	}
	s.server = srv

	if opts.UIAddr != "" {
		uiHost, uiPort, err := splitHostPort(opts.UIAddr)
		if err != nil {
			s.Stop()
			return nil, fmt.Errorf("devserver: UI address: %w", err)
		}
		s.uiAddr = net.JoinHostPort(uiHost, strconv.Itoa(uiPort))
		s.ui = uiserver.NewServer(uiserveroptions.WithConfigProvider(&uiconfig.Config{
			Host:                uiHost,
			Port:                uiPort,
			TemporalGRPCAddress: s.frontend,
			EnableUI:            true,
			DefaultNamespace:    opts.Namespace,
			CORS:                uiconfig.CORS{CookieInsecure: true},
			HideLogs:            true,
			DisableNewsFetch:    true,
		}))
		go func() {
			// Start blocks until Stop; a failure here (port taken after our check) must not
			// take the pipeline down with it.
			if err := s.ui.Start(); err != nil && !errors.Is(err, net.ErrClosed) {
				slog.Error("temporal web UI stopped", "addr", s.uiAddr, "error", err)
			}
		}()
	}
	return s, nil
}

// FrontendAddr is the gRPC address to dial.
func (s *Server) FrontendAddr() string { return s.frontend }

// UIAddr is the Web UI's address, empty when none runs.
func (s *Server) UIAddr() string { return s.uiAddr }

// Stop stops the UI and the server; the SQLite file keeps every run for the next start.
func (s *Server) Stop() {
	if s.ui != nil {
		s.ui.Stop()
	}
	if s.server != nil {
		_ = s.server.Stop()
	}
	s.closeLog()
}

func (s *Server) closeLog() {
	if s.logFile != nil {
		_ = s.logFile.Close()
		s.logFile = nil
	}
}

func buildConfig(opts Options, host string, port int) (*config.Config, error) {
	sqlConf := config.SQL{PluginName: sqliteplugin.PluginName}
	if opts.DatabaseFile == "" {
		sqlConf.ConnectAttributes = map[string]string{"mode": "memory", "cache": "shared"}
		// A unique name: two in-memory servers in one test binary must not share a database.
		sqlConf.DatabaseName = fmt.Sprintf("photoflow-%d-%d", os.Getpid(), time.Now().UnixNano())
	} else {
		sqlConf.ConnectAttributes = map[string]string{"mode": "rwc", "journal_mode": "wal", "busy_timeout": "10000"}
		sqlConf.DatabaseName = opts.DatabaseFile
		if err := os.MkdirAll(filepath.Dir(opts.DatabaseFile), 0o755); err != nil {
			return nil, fmt.Errorf("devserver: data dir: %w", err)
		}
		if _, err := os.Stat(opts.DatabaseFile); errors.Is(err, os.ErrNotExist) {
			if err := sqliteschema.SetupSchema(&sqlConf); err != nil {
				return nil, fmt.Errorf("devserver: schema: %w", err)
			}
		}
	}
	// Custom search attributes are registered at run time through the operator API, the
	// same way for a new file, an old file and an external cluster.
	ns, err := sqliteschema.NewNamespaceConfig(clusterName, opts.Namespace, false, nil)
	if err != nil {
		return nil, fmt.Errorf("devserver: namespace: %w", err)
	}
	ns.Detail.Config.Retention = durationpb.New(opts.Retention)
	if err := sqliteschema.CreateNamespaces(&sqlConf, ns); err != nil {
		return nil, fmt.Errorf("devserver: namespace: %w", err)
	}

	httpPort, err := freePort(host)
	if err != nil {
		return nil, err
	}
	frontendHostPort := net.JoinHostPort(host, strconv.Itoa(port))
	conf := &config.Config{}
	conf.Global.Membership.MaxJoinDuration = 30 * time.Second
	conf.Global.Membership.BroadcastAddress = host
	conf.Persistence.DefaultStore = "sqlite"
	conf.Persistence.VisibilityStore = "sqlite"
	conf.Persistence.NumHistoryShards = 1
	conf.Persistence.DataStores = map[string]config.DataStore{"sqlite": {SQL: &sqlConf}}
	conf.ClusterMetadata = &cluster.Config{
		FailoverVersionIncrement: 10,
		MasterClusterName:        clusterName,
		CurrentClusterName:       clusterName,
		ClusterInformation: map[string]cluster.ClusterInformation{clusterName: {
			Enabled:                true,
			InitialFailoverVersion: 1,
			RPCAddress:             frontendHostPort,
			HTTPAddress:            net.JoinHostPort(host, strconv.Itoa(httpPort)),
			ClusterID:              "photoflow-embedded",
		}},
	}
	conf.DCRedirectionPolicy.Policy = "noop"
	conf.Services = map[string]config.Service{}
	for _, name := range []string{"frontend", "history", "matching", "worker"} {
		var svc config.Service
		svc.RPC.BindOnIP = host
		if name == "frontend" {
			svc.RPC.GRPCPort = port
			svc.RPC.HTTPPort = httpPort
		} else if svc.RPC.GRPCPort, err = freePort(host); err != nil {
			return nil, err
		}
		conf.Services[name] = svc
	}
	conf.Archival.History.State = "disabled"
	conf.Archival.Visibility.State = "disabled"
	conf.NamespaceDefaults.Archival.History.State = "disabled"
	conf.NamespaceDefaults.Archival.Visibility.State = "disabled"
	conf.PublicClient.HostPort = frontendHostPort
	return conf, nil
}

const clusterName = "active"

func splitHostPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	if host == "" {
		host = "127.0.0.1"
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("bad port in %q", addr)
	}
	return host, port, nil
}

// freePort asks the kernel for an unused port for the internal services, which nobody dials
// from outside the process.
func freePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, fmt.Errorf("devserver: no free port on %s: %w", host, err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
