# shellcheck shell=bash
# What run.sh and arm64.sh share: installing the host packages they need,
# as the Makefile does it (one apt at a time under the same lock, waiting
# for another apt rather than failing). The caller defines say and die.

# apt_locked ARGS...: apt-get ARGS under the lock
apt_locked() {
	(
		export DEBIAN_FRONTEND=noninteractive
		flock 8 && apt-get -o DPkg::Lock::Timeout=600 "$@"
	) 8>/var/cache/apt/socktrace-deps.lock
}

# pkgs_ensure PKG...: installs those that are missing (PKG:ARCH for another
# architecture), updating the lists once if the first try fails
pkgs_ensure() {
	local p need=()
	for p in "$@"; do
		dpkg-query -W -f='${db:Status-Status}\n' "$p" 2>/dev/null | grep -qx installed ||
			need+=("$p")
	done
	[ ${#need[@]} = 0 ] && return 0
	say "apt-get install ${need[*]}"
	apt_locked install -y -qq --no-install-recommends "${need[@]}" >/dev/null ||
		{ apt_locked update -qq &&
		  apt_locked install -y -qq --no-install-recommends "${need[@]}" >/dev/null; } ||
		die "failed to install: ${need[*]}"
}
