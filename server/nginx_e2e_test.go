package server_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/quaverlive/quaver/client"
	"github.com/quaverlive/quaver/server"
)

// nginx-rtmp as the peer of an edge (its origin) and of a push (its target).

// nginxRTMP starts nginx with the RTMP module on 127.0.0.1 (an app live) and
// returns its address.
func nginxRTMP(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("nginx")
	module := ""
	for _, f := range []string{"/usr/lib/nginx/modules/ngx_rtmp_module.so", "/usr/share/nginx/modules/ngx_rtmp_module.so"} {
		if _, err := os.Stat(f); err == nil {
			module = f
		}
	}
	if err != nil || module == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("nginx with libnginx-mod-rtmp is not installed (.ci/deps.sh installs it)")
		}
		t.Skip("nginx with the RTMP module not installed")
	}
	dir := t.TempDir()
	addr := freeAddr(t)
	conf := fmt.Sprintf(`load_module %s;
worker_processes 1;
daemon off;
master_process off;
pid %s/nginx.pid;
error_log %s/error.log warn;
events { worker_connections 256; }
rtmp {
    server {
        listen %s;
        application live { live on; }
    }
}
`, module, dir, dir, addr)
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-p", dir, "-e", filepath.Join(dir, "error.log"), "-c", filepath.Join(dir, "nginx.conf"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	if !waitFor(10*time.Second, func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	}) {
		log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
		t.Fatalf("nginx did not start:\n%s", log)
	}
	return addr
}

// TestNginxAsOriginAndPushTarget: an rtmpd edge pulls a stream published to
// nginx-rtmp, and an rtmpd app pushes its publishes to nginx-rtmp, whose
// players get them.
func TestNginxAsOriginAndPushTarget(t *testing.T) {
	ctx := testContext(t)
	ngx := nginxRTMP(t)

	// nginx as the origin of an edge.
	pub, err := client.Dial(ctx, "rtmp://"+ngx+"/live", client.Config{Timeout: 5 * time.Second})
	if err == nil {
		err = pub.Publish(ctx, "origin")
	}
	if err != nil {
		t.Fatalf("publish to nginx: %v", err)
	}
	defer pub.Close()
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { _, _ = synthPublish(pctx, pub, 25, 25, 1500, 0) }()
	e := edge(t, 2*time.Second, "rtmp://"+ngx+"/live")
	p := player(t, ctx, e, "live", "origin", client.Config{Timeout: 15 * time.Second})
	if err := videoArrives(p, 10*time.Second); err != nil {
		t.Fatalf("player at the edge of nginx: %v", err)
	}

	// nginx as a push target.
	src := startServer(t, server.Config{}, map[string]*server.App{"live": {Push: server.Push{"rtmp://" + ngx + "/live/{stream}-copy"}}})
	spub := publisher(t, ctx, src, "live", "pushed", client.Config{})
	go func() { _, _ = synthPublish(pctx, spub, 25, 25, 1500, 0) }()
	var np *client.Conn
	if !waitFor(15*time.Second, func() bool {
		c, err := client.Dial(ctx, "rtmp://"+ngx+"/live", client.Config{Timeout: 5 * time.Second})
		if err != nil {
			return false
		}
		if err := c.Play(ctx, "pushed-copy"); err != nil || videoArrives(c, 3*time.Second) != nil {
			c.Close()
			return false
		}
		np = c
		return true
	}) {
		t.Fatal("nginx's player got no video of the push")
	}
	np.Close()
}
