package sandbox

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"syscall"
	"time"
)

// process is one child of the sandbox: etcd, kube-apiserver, kube-controller-manager or moto.
type process struct {
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // its exit status, valid after done
}

// spawner starts every child from one goroutine locked to its OS thread. Linux delivers Pdeathsig when the
// thread that forked a child exits, not the process; a thread that lives as long as the sandbox keeps the
// signal armed, so a sandbox killed with SIGKILL still takes all its children with it.
type spawner struct {
	reqs chan spawnReq
	once sync.Once
	pgid int // the process group all children join; 0 until the first child leads it
}

type spawnReq struct {
	cmd   *exec.Cmd
	reply chan error
}

func newSpawner() *spawner {
	s := &spawner{reqs: make(chan spawnReq)}
	go func() {
		runtime.LockOSThread() // never unlocked: the thread must outlive every child
		for r := range s.reqs {
			r.reply <- s.start(r.cmd)
		}
	}()
	return s
}

func (s *spawner) start(cmd *exec.Cmd) error {
	// All children share one process group (led by the first), apart from the sandbox's own: a terminal's
	// Ctrl-C reaches the sandbox, which stops them in order, and `sdc-sandbox down` can kill the group.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pgid: s.pgid, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	if s.pgid == 0 {
		s.pgid = cmd.Process.Pid
	}
	return nil
}

func (s *spawner) close() { s.once.Do(func() { close(s.reqs) }) }

// run starts path with args, its output appended to logPath.
func (s *spawner) run(name, path string, args []string, env []string, logPath string) (*process, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), env...)
	reply := make(chan error)
	s.reqs <- spawnReq{cmd: cmd, reply: reply}
	if err := <-reply; err != nil {
		logf.Close()
		return nil, fmt.Errorf("starting %s (%s): %w", name, path, err)
	}
	p := &process{name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has ended.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop asks the process to end with SIGTERM and kills it if it has not after grace.
func (p *process) stop(grace time.Duration) {
	if p == nil || p.exited() {
		return
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		_ = p.cmd.Process.Kill()
	}
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// ProcessGroup is the process group of the sandbox's children (0 before the first starts).
func (s *Sandbox) ProcessGroup() int { return s.spawn.pgid }
