//go:build pprof

package main

import (
	"os"
	"runtime"
	"runtime/pprof"
	"time"
)

// A build with -tags pprof writes profiles for a developer measuring the plugin (make bench explains the
// figures): $KUBECTL_SDC_CPUPROFILE gets the CPU profile of the whole run, $KUBECTL_SDC_MEMPROFILE the heap
// at its end, or, with $KUBECTL_SDC_MEMPROFILE_AFTER (a duration such as 1.5s), the live heap that long
// after the start. Release builds have none of them.
func init() {
	if p := os.Getenv("KUBECTL_SDC_CPUPROFILE"); p != "" {
		f, err := os.Create(p)
		if err == nil && pprof.StartCPUProfile(f) == nil {
			atExit = append(atExit, func() { pprof.StopCPUProfile(); _ = f.Close() })
		}
	}
	if p := os.Getenv("KUBECTL_SDC_MEMPROFILE"); p != "" {
		runtime.MemProfileRate = 64 * 1024
		if after, err := time.ParseDuration(os.Getenv("KUBECTL_SDC_MEMPROFILE_AFTER")); err == nil {
			time.AfterFunc(after, func() {
				runtime.GC()
				if f, err := os.Create(p); err == nil {
					_ = pprof.Lookup("heap").WriteTo(f, 0)
					_ = f.Close()
				}
			})
			return
		}
		atExit = append(atExit, func() {
			if f, err := os.Create(p); err == nil {
				_ = pprof.Lookup("allocs").WriteTo(f, 0)
				_ = f.Close()
			}
		})
	}
}
