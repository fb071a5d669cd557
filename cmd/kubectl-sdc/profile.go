//go:build pprof

package main

import (
	"os"
	"runtime"
	"runtime/pprof"
)

// A build with -tags pprof writes profiles for a developer measuring the plugin (make bench explains the
// figures): $KUBECTL_SDC_CPUPROFILE gets the CPU profile of the whole run, $KUBECTL_SDC_MEMPROFILE the heap
// at its end. Release builds have neither.
func init() {
	if p := os.Getenv("KUBECTL_SDC_CPUPROFILE"); p != "" {
		f, err := os.Create(p)
		if err == nil && pprof.StartCPUProfile(f) == nil {
			atExit = append(atExit, func() { pprof.StopCPUProfile(); _ = f.Close() })
		}
	}
	if p := os.Getenv("KUBECTL_SDC_MEMPROFILE"); p != "" {
		runtime.MemProfileRate = 64 * 1024
		atExit = append(atExit, func() {
			if f, err := os.Create(p); err == nil {
				_ = pprof.Lookup("allocs").WriteTo(f, 0)
				_ = f.Close()
			}
		})
	}
}
