package store

import (
	"bufio"
	"context"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"c2sweep/internal/indicator"
)

// helperEnv makes the test binary act as a helper process (another c2sweep
// run) instead of running tests: "lock:PATH" or "crash:PATH".
const helperEnv = "C2SWEEP_STORE_HELPER"

func TestMain(m *testing.M) {
	if h := os.Getenv(helperEnv); h != "" {
		os.Exit(helper(h))
	}
	code := m.Run()
	cleanupBench()
	os.Exit(code)
}

func helper(spec string) int {
	mode, path, _ := strings.Cut(spec, ":")
	ctx := context.Background()
	s, err := Open(ctx, path, Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if err := s.Lock(ctx, false); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	switch mode {
	case "lock":
		// Hold the lock until the parent closes stdin.
		fmt.Println("locked")
		bufio.NewReader(os.Stdin).ReadString('\n')
		s.Close()
		return 0
	case "crash":
		run, err := s.BeginRun(ctx, RunInfo{Command: "crash-helper"})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 4
		}
		for i := 0; i < crashBatches; i++ {
			ips, hits := crashBatch(i)
			if _, err := s.CommitSweep(ctx, run, crashTarget, ips, crashEnd, hits); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 5
			}
			fmt.Printf("committed %d\n", i)
		}
		fmt.Println("done")
		select {} // wait to be killed
	}
	return 1
}

const (
	crashBatches  = 30
	crashPerBatch = 200
	crashTarget   = "DeviceNetworkEvents.RemoteIP"
)

var crashEnd = time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)

// crashBatch is query i of a simulated run: its IPs and the hits it found.
func crashBatch(i int) ([]netip.Addr, []indicator.Hit) {
	var ips []netip.Addr
	var hits []indicator.Hit
	for j := 0; j < crashPerBatch; j++ {
		ip := netip.AddrFrom4([4]byte{203, byte(i), byte(j >> 8), byte(j)})
		ips = append(ips, ip)
		hits = append(hits, testHit(ip, fmt.Sprintf("dev-%d", j%50), fmt.Sprintf("%d-%d", i, j),
			crashEnd.Add(-time.Duration(j)*time.Minute), "CobaltStrikeJARM"))
	}
	return ips, hits
}

func testHit(ip netip.Addr, device, report string, ts time.Time, hunts ...string) indicator.Hit {
	return indicator.Hit{
		Table: "DeviceNetworkEvents", Column: "RemoteIP", IP: ip, Timestamp: ts,
		DeviceID: "id-" + device, Device: device, Account: "corp\\alice", Port: 443,
		Action: "ConnectionSuccess", Process: "rundll32.exe", Command: "rundll32.exe beacon.dll,Start",
		ReportID: report, Hunts: hunts,
	}
}
