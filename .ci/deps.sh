#!/usr/bin/env bash
# Installs what the test suite needs when it is missing: ffmpeg/ffprobe
# (real publishers and players in end-to-end tests), Chromium (browser tests
# in browsertest/), Node.js/npm (`make web` installs the page's player
# libraries), nginx with libnginx-mod-rtmp (the peer of edge and push
# tests), redis-server (the cluster directory's tests) and promtool
# (Debian package prometheus: the admin test checks a /metrics scrape with
# `promtool check metrics`). Safe to run repeatedly.
set -euo pipefail

need=()
command -v ffmpeg >/dev/null 2>&1 || need+=(ffmpeg)
command -v ffprobe >/dev/null 2>&1 || need+=(ffmpeg)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v npm >/dev/null 2>&1 || need+=(nodejs npm)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
if ! command -v nginx >/dev/null 2>&1 || { [ ! -f /usr/lib/nginx/modules/ngx_rtmp_module.so ] && [ ! -f /usr/share/nginx/modules/ngx_rtmp_module.so ]; }; then
	need+=(nginx libnginx-mod-rtmp)
fi

if ((${#need[@]})); then
	if [[ $(id -u) -ne 0 ]]; then
		SUDO=sudo
	else
		SUDO=
	fi
	echo "deps: installing ${need[*]} from Debian packages"
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
echo "deps: ffmpeg $(ffmpeg -version | head -1 | awk '{print $3}'), $(chromium --version 2>/dev/null), node $(node --version), npm $(npm --version 2>/dev/null), $(promtool --version 2>&1 | head -1)"
