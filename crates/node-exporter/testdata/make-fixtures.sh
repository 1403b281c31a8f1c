#!/bin/sh
# Rebuilds the /proc, /sys and rootfs fixture trees the golden tests read.
#
# Files come from the machine this runs on (trimmed to a few CPUs and
# devices so the tree stays small); subsystems a virtual machine lacks
# (cpufreq, thermal zones, EDAC, RAPL, DMI, hwmon-like sensors, schedstat,
# a textfile directory) get small hand-written samples in the kernel's
# own format, marked "synthetic" below.
#
# Usage: testdata/make-fixtures.sh [PROC_ROOT] [SYS_ROOT]
# then:  UPDATE_GOLDEN=1 cargo test -p beacon-node-exporter --test golden
set -eu

PROC=${1:-/proc}
SYS=${2:-/sys}
HERE=$(cd "$(dirname "$0")" && pwd)
OUT_PROC=$HERE/proc
OUT_SYS=$HERE/sys
OUT_ROOT=$HERE/rootfs

rm -rf "$OUT_PROC" "$OUT_SYS" "$OUT_ROOT"
mkdir -p "$OUT_PROC" "$OUT_SYS" "$OUT_ROOT/etc"

# copy_proc REL: copies one /proc file if the kernel has it.
copy_proc() {
    if [ -r "$PROC/$1" ]; then
        mkdir -p "$OUT_PROC/$(dirname "$1")"
        cat "$PROC/$1" > "$OUT_PROC/$1"
    fi
}

for f in stat meminfo loadavg vmstat net/dev net/netstat net/snmp net/snmp6 \
    net/sockstat net/sockstat6 net/arp net/softnet_stat net/stat/nf_conntrack \
    sys/net/netfilter/nf_conntrack_count sys/net/netfilter/nf_conntrack_max \
    sys/fs/file-nr sys/kernel/random/entropy_avail sys/kernel/random/poolsize \
    pressure/cpu pressure/io pressure/memory; do
    copy_proc "$f"
done

# Keep the first two CPUs of /proc/cpuinfo.
awk 'BEGIN{RS=""; ORS="\n\n"} NR<=2' "$PROC/cpuinfo" > "$OUT_PROC/cpuinfo"

# UDP sockets: the header and at most four sockets per family.
for f in net/udp net/udp6; do
    [ -r "$PROC/$f" ] && head -n 5 "$PROC/$f" > "$OUT_PROC/$f"
done

# Disks: the first three lines plus one partition-like line that the
# default device-exclude must drop.
{ grep -v ' loop' "$PROC/diskstats" | head -n 2; grep ' loop0 ' "$PROC/diskstats"; } > "$OUT_PROC/diskstats"
echo " 254       1 vda1 100 0 2000 30 50 0 400 20 0 60 50 0 0 0 0 0 0" >> "$OUT_PROC/diskstats"

# Mounts of PID 1 (the filesystem golden test stats them through a fixed
# test hook, so only this list matters), plus entries the default
# excludes must drop and an octal-escaped mount point.
mkdir -p "$OUT_PROC/1"
grep -E ' (/|/proc|/sys|/dev/shm) ' "$PROC/1/mounts" | head -n 6 > "$OUT_PROC/1/mounts"
printf '%s\n' 'server:/export /mnt/nfs\040share nfs4 ro,relatime 0 0' >> "$OUT_PROC/1/mounts"
echo 'overlay /var/lib/docker/overlay2/x/merged overlay rw 0 0' >> "$OUT_PROC/1/mounts"
echo 'tmpfs /run/user/1000 tmpfs rw,nosuid,nodev 0 0' >> "$OUT_PROC/1/mounts"

# synthetic: /proc/schedstat (version 15 layout, two CPUs).
cat > "$OUT_PROC/schedstat" <<'X'
version 15
timestamp 4294937297
cpu0 0 0 0 0 0 0 2505458913 1213093154 86142
domain0 3 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
cpu1 0 0 0 0 0 0 1927438571 813468823 58214
X

# /sys/class/net: every readable regular attribute of lo and of the first
# other interface.
first=$(ls "$SYS/class/net" | grep -v '^lo$' | grep -v bonding_masters | head -n 1)
for name in lo $first; do
    dev=$SYS/class/net/$name
    [ -d "$dev" ] || continue
    mkdir -p "$OUT_SYS/class/net/$name/statistics"
    for a in "$dev"/* "$dev"/statistics/*; do
        [ -f "$a" ] || continue
        rel=${a#"$dev"/}
        cat "$a" > "$OUT_SYS/class/net/$name/$rel" 2>/dev/null || rm -f "$OUT_SYS/class/net/$name/$rel"
    done
done

# synthetic: a bonding master with one slave up and one down.
b=$OUT_SYS/class/net/bond0
mkdir -p "$b/bonding" "$b/lower_eth1/bonding_slave" "$b/lower_eth2/bonding_slave"
echo bond0 > "$OUT_SYS/class/net/bonding_masters"
echo "eth1 eth2" > "$b/bonding/slaves"
echo up > "$b/lower_eth1/bonding_slave/mii_status"
echo down > "$b/lower_eth2/bonding_slave/mii_status"
echo up > "$b/operstate"
echo 1500 > "$b/mtu"

# Clocksources.
for cs in "$SYS"/devices/system/clocksource/clocksource*; do
    [ -d "$cs" ] || continue
    d=$OUT_SYS/devices/system/clocksource/$(basename "$cs")
    mkdir -p "$d"
    cat "$cs/available_clocksource" > "$d/available_clocksource"
    cat "$cs/current_clocksource" > "$d/current_clocksource"
done

# synthetic: cpufreq and thermal throttle counters for cpu0.
c=$OUT_SYS/devices/system/cpu/cpu0
mkdir -p "$c/cpufreq" "$c/thermal_throttle" "$c/topology"
echo 1800000 > "$c/cpufreq/cpuinfo_cur_freq"
echo 3600000 > "$c/cpufreq/cpuinfo_max_freq"
echo 800000 > "$c/cpufreq/cpuinfo_min_freq"
echo 1799998 > "$c/cpufreq/scaling_cur_freq"
echo 3600000 > "$c/cpufreq/scaling_max_freq"
echo 800000 > "$c/cpufreq/scaling_min_freq"
echo 5 > "$c/thermal_throttle/core_throttle_count"
echo 7 > "$c/thermal_throttle/package_throttle_count"
echo 0 > "$c/topology/physical_package_id"
echo 0 > "$c/topology/core_id"

# synthetic: a thermal zone and a cooling device.
t=$OUT_SYS/class/thermal
mkdir -p "$t/thermal_zone0" "$t/cooling_device0"
echo x86_pkg_temp > "$t/thermal_zone0/type"
echo 42500 > "$t/thermal_zone0/temp"
echo Processor > "$t/cooling_device0/type"
echo 0 > "$t/cooling_device0/cur_state"
echo 3 > "$t/cooling_device0/max_state"

# synthetic: one EDAC memory controller with one csrow.
e=$OUT_SYS/devices/system/edac/mc/mc0
mkdir -p "$e/csrow0"
for f in ce_count ce_noinfo_count ue_count ue_noinfo_count; do echo 1 > "$e/$f"; done
echo 2 > "$e/csrow0/ce_count"
echo 0 > "$e/csrow0/ue_count"

# synthetic: a RAPL package zone.
r=$OUT_SYS/class/powercap/intel-rapl:0
mkdir -p "$r"
echo package-0 > "$r/name"
echo 240422366267 > "$r/energy_uj"

# synthetic: DMI identity (readable fields only, as for a non-root user).
d=$OUT_SYS/class/dmi/id
mkdir -p "$d"
echo 04/01/2014 > "$d/bios_date"
echo SeaBIOS > "$d/bios_vendor"
echo "Standard PC (Q35 + ICH9, 2009)" > "$d/product_name"
echo QEMU > "$d/sys_vendor"

# synthetic: a software watchdog.
w=$OUT_SYS/class/watchdog/watchdog0
mkdir -p "$w"
echo 0 > "$w/bootstatus"
echo 0 > "$w/nowayout"
echo 60 > "$w/timeout"
echo "Software Watchdog" > "$w/identity"
echo inactive > "$w/state"

# synthetic: a udev database entry for the first disk (udev does not run
# in most virtual machines and containers).
rm -rf "$HERE/udev"
mkdir -p "$HERE/udev"
disk=$(awk '{print $1 ":" $2; exit}' "$OUT_PROC/diskstats")
cat > "$HERE/udev/b$disk" <<'X'
S:disk/by-path/pci-0000:00:05.0
E:ID_PATH=pci-0000:00:05.0
E:ID_MODEL=Virtual_Disk
E:ID_SERIAL_SHORT=vd0001
E:ID_REVISION=1.0
E:ID_FS_TYPE=ext4
E:ID_FS_USAGE=filesystem
E:ID_FS_UUID=0f3c6a2e-5d1b-4c3e-9a57-2b8e1f0d4c21
E:ID_FS_VERSION=1.0
X

# The distribution, for the os collector (--path.rootfs).
cat /etc/os-release > "$OUT_ROOT/etc/os-release"

# synthetic: a textfile directory with a good and a malformed file.
tf=$HERE/textfile
rm -rf "$tf"
mkdir -p "$tf"
cat > "$tf/good.prom" <<'X'
# HELP backup_last_success_seconds Time of the last successful backup.
# TYPE backup_last_success_seconds gauge
backup_last_success_seconds{job="db"} 1.7e+09
raid_ok 1
# TYPE request_seconds histogram
request_seconds_bucket{le="0.1"} 3
request_seconds_bucket{le="+Inf"} 5
request_seconds_sum 1.5
request_seconds_count 5
X
printf 'this is { not valid\n' > "$tf/broken.prom"

du -sh --apparent-size "$HERE"
