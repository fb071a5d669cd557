package awsfront

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// MotoOptions tells StartMoto where to keep moto's log.
type MotoOptions struct {
	Dir string    // moto's output goes to Dir/moto.log; empty: Log or nowhere
	Log io.Writer // also receives moto's output when set
}

// Moto is a running moto_server on a loopback port.
type Moto struct {
	URL string // http://127.0.0.1:<port>

	cmd  *exec.Cmd
	done chan struct{}
	err  error
	logf *os.File
	once sync.Once
}

// motoBinary is the command StartMoto runs; the Debian/pip package installs it on PATH.
const motoBinary = "moto_server"

// StartMoto starts moto_server on a free loopback port and returns once it answers HTTP. The child stays in
// the caller's process group and gets SIGKILL when the caller dies, so it never outlives us.
func StartMoto(ctx context.Context, o MotoOptions) (*Moto, error) {
	path, err := exec.LookPath(motoBinary)
	if err != nil {
		return nil, fmt.Errorf("moto_server not found on PATH: %w; install it with: pip install 'moto[server]==5.2.1'", err)
	}
	var out io.Writer = io.Discard
	var logf *os.File
	if o.Dir != "" {
		logf, err = os.OpenFile(filepath.Join(o.Dir, "moto.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, fmt.Errorf("opening moto's log in %s: %w", o.Dir, err)
		}
		out = logf
	}
	if o.Log != nil {
		if logf != nil {
			out = io.MultiWriter(logf, o.Log)
		} else {
			out = o.Log
		}
	}

	// moto_server cannot bind port 0 and report it, so pick a free port and retry if someone takes it first.
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePort()
		if err != nil {
			closeFile(logf)
			return nil, err
		}
		m := &Moto{URL: "http://127.0.0.1:" + strconv.Itoa(port), done: make(chan struct{}), logf: logf}
		cmd := exec.Command(path, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
		cmd.Stdout, cmd.Stderr = out, out
		// moto must not try to reach the internet or read the developer's AWS setup: a profile or region from
		// the caller's shell makes its own boto calls fail (HTTP 500 for every request).
		cmd.Env = append(withoutAWS(os.Environ()), "AWS_EC2_METADATA_DISABLED=true", "PYTHONUNBUFFERED=1")
		if err := spawn(cmd); err != nil {
			closeFile(logf)
			return nil, fmt.Errorf("starting %s: %w", path, err)
		}
		m.cmd = cmd
		go func() {
			m.err = cmd.Wait()
			close(m.done)
		}()
		if err := m.waitReady(ctx); err != nil {
			lastErr = err
			_ = m.kill()
			if ctx.Err() != nil {
				break
			}
			continue
		}
		return m, nil
	}
	closeFile(logf)
	return nil, fmt.Errorf("moto_server did not start (see moto.log in %q): %w", o.Dir, lastErr)
}

// waitReady polls moto until it answers or exits.
func (m *Moto) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, m.URL+"/moto-api/", nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-m.done:
			return fmt.Errorf("moto_server exited before answering: %v", m.err)
		case <-ctx.Done():
			return fmt.Errorf("moto_server did not answer on %s: %w", m.URL, ctx.Err())
		case <-tick.C:
		}
	}
}

// Stop ends moto and waits for it.
func (m *Moto) Stop() error {
	var err error
	m.once.Do(func() {
		err = m.kill()
		closeFile(m.logf)
	})
	return err
}

func (m *Moto) kill() error {
	select {
	case <-m.done:
		return nil
	default:
	}
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.done:
	case <-time.After(5 * time.Second):
		_ = m.cmd.Process.Kill()
		<-m.done
	}
	return nil
}

// withoutAWS drops the AWS_* variables from an environment.
func withoutAWS(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if !strings.HasPrefix(kv, "AWS_") {
			out = append(out, kv)
		}
	}
	return out
}

func closeFile(f *os.File) {
	if f != nil {
		f.Close()
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free loopback port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Linux delivers Pdeathsig when the thread that forked the child exits, not the process. All children are
// therefore started from one goroutine locked to a thread that lives as long as the process.
var (
	spawnOnce sync.Once
	spawnReqs chan spawnReq
)

type spawnReq struct {
	cmd   *exec.Cmd
	reply chan error
}

func spawn(cmd *exec.Cmd) error {
	spawnOnce.Do(func() {
		spawnReqs = make(chan spawnReq)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread must outlive every child
			for r := range spawnReqs {
				r.cmd.SysProcAttr = childProcAttr()
				r.reply <- r.cmd.Start()
			}
		}()
	})
	reply := make(chan error)
	spawnReqs <- spawnReq{cmd: cmd, reply: reply}
	return <-reply
}
