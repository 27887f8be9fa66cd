// Package cluster is the stream directory of a cluster of servers: which
// node holds each published stream, kept in Redis (redis/go-redis), so the
// nodes agree on an existing distributed store instead of a protocol of
// their own.
//
// A node that accepts a publish claims app/stream for its advertised RTMP
// address with SET NX and a TTL, and refreshes its claims well within the
// TTL; a second publisher of the same name on another node finds the claim
// (the republish policy then rejects it, or takes the claim over, and the
// node that lost it closes its publisher at its next refresh). A node asked
// for a stream it does not hold looks the owner up and pulls from it. When
// a node dies its claims expire. When Redis is unavailable each node goes on
// serving what it holds, and logs that once until Redis is back.
//
// Every Directory method may block on the network: call it off the event
// loops. Safe from any goroutine.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Defaults.
const (
	// DefaultTTL is how long a claim outlives its node's last refresh.
	DefaultTTL = 6 * time.Second
	// opTimeout bounds one Redis operation.
	opTimeout = 2 * time.Second
	// keyPrefix namespaces the directory's keys.
	keyPrefix = "quaver:stream:"
)

// ErrTaken is a claim refused because another node holds the stream.
var ErrTaken = errors.New("cluster: stream is published on another node")

// Config configures a Directory.
type Config struct {
	Redis     string        // host:port of Redis
	Advertise string        // this node's RTMP address as other nodes dial it (rtmp://host:port)
	TTL       time.Duration // DefaultTTL when 0
	Logger    *slog.Logger
	// Holds, when set, reports whether this node still publishes
	// app/stream. A claim whose publish never came (refused after the claim)
	// or ended without a Release is given up at the second refresh that
	// finds it not held, instead of being refreshed for ever.
	Holds func(app, stream string) bool
}

// Directory is the cluster's stream directory as one node sees it.
type Directory struct {
	cfg Config
	rdb *redis.Client
	log *slog.Logger

	mu     sync.Mutex
	claims map[string]func() // key -> called when another node took it over
	idle   map[string]bool   // claims a refresh found not held (Config.Holds)
	down   bool              // Redis unreachable (logged once)

	stop chan struct{}
	done chan struct{}
}

// New connects to Redis lazily and starts refreshing this node's claims
// (Close stops it).
func New(cfg Config) *Directory {
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	d := &Directory{
		cfg:    cfg,
		rdb:    redis.NewClient(&redis.Options{Addr: cfg.Redis, DialTimeout: opTimeout, ReadTimeout: opTimeout, WriteTimeout: opTimeout, MaxRetries: -1}),
		log:    cfg.Logger.With("redis", cfg.Redis),
		claims: map[string]func(){},
		idle:   map[string]bool{},
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	go d.refresher()
	return d
}

// Advertise returns this node's address.
func (d *Directory) Advertise() string { return d.cfg.Advertise }

// Close stops refreshing, releases this node's claims and closes the
// connection to Redis.
func (d *Directory) Close() error {
	close(d.stop)
	<-d.done
	d.mu.Lock()
	keys := make([]string, 0, len(d.claims))
	for k := range d.claims {
		keys = append(keys, k)
	}
	d.claims = map[string]func(){}
	d.mu.Unlock()
	for _, k := range keys {
		d.release(k)
	}
	return d.rdb.Close()
}

// Claim makes this node the holder of app/stream. Another node's claim is
// taken over when replace is set, and refused with ErrTaken otherwise.
// lost runs (on the refresher's goroutine) if another node takes the claim
// over later. When Redis is unavailable, the claim is granted locally (and
// the error logged once): the node serves what it holds.
func (d *Directory) Claim(ctx context.Context, app, stream string, replace bool, lost func()) error {
	key := keyPrefix + app + "/" + stream
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	ok, err := d.rdb.SetNX(ctx, key, d.cfg.Advertise, d.cfg.TTL).Result()
	if err == nil && !ok {
		var owner string
		owner, err = d.rdb.Get(ctx, key).Result()
		switch {
		case err == nil && owner == d.cfg.Advertise:
			err = d.rdb.PExpire(ctx, key, d.cfg.TTL).Err()
		case err == nil && !replace:
			return fmt.Errorf("%w (%s)", ErrTaken, owner)
		case err == nil || errors.Is(err, redis.Nil):
			err = d.rdb.Set(ctx, key, d.cfg.Advertise, d.cfg.TTL).Err()
		}
	}
	d.health(err)
	d.mu.Lock()
	d.claims[key] = lost
	d.mu.Unlock()
	return nil
}

// Release gives up this node's claim of app/stream, if it still holds it.
func (d *Directory) Release(app, stream string) {
	key := keyPrefix + app + "/" + stream
	d.mu.Lock()
	delete(d.claims, key)
	delete(d.idle, key)
	d.mu.Unlock()
	d.release(key)
}

var releaseScript = redis.NewScript(`if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end return 0`)

func (d *Directory) release(key string) {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	d.health(releaseScript.Run(ctx, d.rdb, []string{key}, d.cfg.Advertise).Err())
}

// Lookup returns the address of the node holding app/stream, "" when none
// does (or Redis is unavailable).
func (d *Directory) Lookup(ctx context.Context, app, stream string) string {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	owner, err := d.rdb.Get(ctx, keyPrefix+app+"/"+stream).Result()
	if errors.Is(err, redis.Nil) {
		d.health(nil)
		return ""
	}
	d.health(err)
	if err != nil {
		return ""
	}
	return owner
}

// refreshScript extends a claim that is still ours: 1; 0 when another node
// holds it; -1 when it expired (it is set again).
var refreshScript = redis.NewScript(`
local v = redis.call("GET", KEYS[1])
if v == ARGV[1] then redis.call("PEXPIRE", KEYS[1], ARGV[2]) return 1 end
if v then return 0 end
redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2]) return -1`)

// refresher extends this node's claims every third of the TTL.
func (d *Directory) refresher() {
	defer close(d.done)
	t := time.NewTicker(d.cfg.TTL / 3)
	defer t.Stop()
	for {
		select {
		case <-d.stop:
			return
		case <-t.C:
		}
		d.mu.Lock()
		keys := make([]string, 0, len(d.claims))
		for k := range d.claims {
			keys = append(keys, k)
		}
		d.mu.Unlock()
		for _, k := range keys {
			if d.cfg.Holds != nil {
				app, stream, _ := strings.Cut(strings.TrimPrefix(k, keyPrefix), "/")
				held := d.cfg.Holds(app, stream)
				d.mu.Lock()
				stale := !held && d.idle[k]
				if held {
					delete(d.idle, k)
				} else {
					d.idle[k] = true
				}
				if stale {
					delete(d.claims, k)
					delete(d.idle, k)
				}
				d.mu.Unlock()
				if stale {
					d.release(k)
					continue
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
			r, err := refreshScript.Run(ctx, d.rdb, []string{k}, d.cfg.Advertise, d.cfg.TTL.Milliseconds()).Int()
			cancel()
			d.health(err)
			if err == nil && r == 0 {
				d.mu.Lock()
				lost := d.claims[k]
				delete(d.claims, k)
				d.mu.Unlock()
				d.log.Info("stream taken over by another node", "key", k)
				if lost != nil {
					lost()
				}
			}
		}
	}
}

// health logs the first failure and the recovery of Redis.
func (d *Directory) health(err error) {
	if errors.Is(err, redis.Nil) {
		err = nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case err != nil && !d.down:
		d.down = true
		d.log.Warn("cluster directory unavailable; serving local streams only", "err", err)
	case err == nil && d.down:
		d.down = false
		d.log.Info("cluster directory available again")
	}
}
