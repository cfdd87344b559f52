package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"
)

// usage is what one process cost, as measured by the launcher.
type usage struct {
	Wall   time.Duration `json:"wall"`
	CPU    time.Duration `json:"cpu"`    // user + system, all threads
	MaxRSS int64         `json:"maxRSS"` // KiB
}

// spawnCmd runs argv and prints its usage as JSON. It exists because Go
// starts children with vfork semantics: until exec the child shares the
// parent's address space, and Linux folds that address space's peak RSS into
// the child's ru_maxrss. Launched from the harness, which holds decoded images,
// every child would inherit the harness's peak; launched from this small
// process, the inherited floor is a few MiB, which the report states.
func spawnCmd(argv []string, out io.Writer) error {
	cmd := exec.Command(argv[0], argv[1:]...)
	// Output is discarded so that neither side pays for a pipe reader.
	cmd.Stdout = nil
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return fmt.Errorf("%s: %v: %s", strings.Join(argv, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return fmt.Errorf("no resource usage for %s", argv[0])
	}
	u := usage{
		Wall:   wall,
		CPU:    cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(),
		MaxRSS: ru.Maxrss, // KiB on Linux
	}
	return json.NewEncoder(out).Encode(u)
}

// launcher measures processes through `bench spawn`.
type launcher struct {
	self string // this executable
}

// measure runs argv once under the launcher.
func (l launcher) measure(argv ...string) (usage, error) {
	cmd := exec.Command(l.self, append([]string{"spawn"}, argv...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return usage{}, fmt.Errorf("%v: %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	var u usage
	if err := json.Unmarshal(stdout.Bytes(), &u); err != nil {
		return usage{}, fmt.Errorf("launcher output %q: %v", stdout.String(), err)
	}
	return u, nil
}

// procStats summarizes repeated runs of one process.
type procStats struct {
	// WallMs and CPUMs are medians; CPU above wall means several threads.
	WallMs float64 `json:"wallMs"`
	CPUMs  float64 `json:"cpuMs"`
	// MaxRSSKiB is the largest peak resident set over the runs.
	MaxRSSKiB int64 `json:"maxRSSKiB"`
}

func summarize(us []usage) procStats {
	walls := make([]time.Duration, len(us))
	cpus := make([]time.Duration, len(us))
	var rss int64
	for i, u := range us {
		walls[i], cpus[i] = u.Wall, u.CPU
		rss = max(rss, u.MaxRSS)
	}
	return procStats{WallMs: ms(median(walls)), CPUMs: ms(median(cpus)), MaxRSSKiB: rss}
}

// alternate runs a and b n times each, after one unmeasured run of each,
// taking turns and swapping who goes first every round, so that a noisy
// neighbour or a frequency change hits both sides alike.
func (l launcher) alternate(n int, a, b []string) (ua, ub []usage, err error) {
	if _, err := l.measure(a...); err != nil {
		return nil, nil, err
	}
	if _, err := l.measure(b...); err != nil {
		return nil, nil, err
	}
	for i := range n {
		first, second := &ua, &ub
		fa, fb := a, b
		if i%2 == 1 {
			first, second, fa, fb = second, first, fb, fa
		}
		u, err := l.measure(fa...)
		if err != nil {
			return nil, nil, err
		}
		*first = append(*first, u)
		if u, err = l.measure(fb...); err != nil {
			return nil, nil, err
		}
		*second = append(*second, u)
	}
	return ua, ub, nil
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
