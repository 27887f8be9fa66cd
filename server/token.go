package server

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// SignToken returns a token that lets its bearer publish or play app/stream
// until expires, for an app whose Access.TokenSecret is secret: the expiry
// in Unix seconds, a dot, and the hex HMAC-SHA256 of "app/stream/expiry"
// (with "/ip" appended when ip is not empty, for Access.TokenBindsIP). Give
// it to clients as the query parameter token=... Safe from any goroutine.
func SignToken(secret, app, stream string, expires time.Time, ip string) string {
	exp := strconv.FormatInt(expires.Unix(), 10)
	return exp + "." + tokenMAC(secret, app, stream, exp, ip)
}

func tokenMAC(secret, app, stream, exp, ip string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(app + "/" + stream + "/" + exp))
	if ip != "" {
		m.Write([]byte("/" + ip))
	}
	return hex.EncodeToString(m.Sum(nil))
}

// checkToken reports why token does not let its bearer at app/stream at
// now ("" when it does).
func checkToken(secret, token, app, stream string, now time.Time, ip string) string {
	exp, mac, ok := strings.Cut(token, ".")
	if !ok || token == "" {
		return "a valid token is required"
	}
	sec, err := strconv.ParseInt(exp, 10, 64)
	if err != nil {
		return "malformed token"
	}
	if !hmac.Equal([]byte(mac), []byte(tokenMAC(secret, app, stream, exp, ip))) {
		return "invalid token"
	}
	if now.Unix() > sec {
		return "token expired"
	}
	return ""
}
