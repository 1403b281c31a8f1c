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

# synthetic: /proc/mdstat with a degraded mirror being rebuilt.
cat > "$OUT_PROC/mdstat" <<'X'
Personalities : [raid1]
md0 : active raid1 sdb1[1] sda1[0]
      1953382400 blocks super 1.2 [2/2] [UU]
      bitmap: 0/15 pages [0KB], 65536KB chunk

md1 : active raid1 sdd1[2] sdc1[0]
      976630336 blocks super 1.2 [2/1] [U_]
      [==>..................]  recovery = 12.6% (123456789/976630336) finish=70.5min speed=201628K/sec

unused devices: <none>
X

# synthetic: NFS client statistics (kernel 6.x layout).
mkdir -p "$OUT_PROC/net/rpc"
cat > "$OUT_PROC/net/rpc/nfs" <<'X'
net 18628 0 18628 6
rpc 4329785 0 4338291
proc3 22 1 4084749 29200 94754 32580 186 47747 7840 4572 5 0 0 2339 2 4 0 0 0 1 6 4 0
proc4 69 0 2 3 0 4 0 0 5 1 0 0 2 0 0 0 0 7 8 9 0 0 0 0 0 0 0 0 0 0 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
X

# synthetic: NFS server statistics (kernel 6.x layout, no `ra` line).
cat > "$OUT_PROC/net/rpc/nfsd" <<'X'
rc 0 6 18622
fh 0 0 0 0 0
io 157286400 72192
th 8 0 0.000 0.000 0.000 0.000 0.000 0.000 0.000 0.000 0.000 0.000
net 18628 0 18629 6
rpc 18628 3 1 2 0
proc3 22 2 112 0 2719 111 0 0 0 0 0 0 0 0 0 0 0 27 216 0 2 1 0
proc4 2 2 10853
proc4ops 72 0 0 0 1098 2 0 0 0 0 8179 5896 0 0 0 0 5900 0 0 2 0 2 0 9609 0 2 150 1272 0 0 0 1236 0 0 0 0 3 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
X

# synthetic: a few OpenZFS kstat counters.
mkdir -p "$OUT_PROC/spl/kstat/zfs"
cat > "$OUT_PROC/spl/kstat/zfs/arcstats" <<'X'
13 1 0x01 123 33456 1386183316 93519425384
name                            type data
hits                            4    8772612
misses                          4    604635
c_max                           4    16624467968
size                            4    1173114792
arc_no_grow                     1    0
X
cat > "$OUT_PROC/spl/kstat/zfs/zil" <<'X'
10 1 0x01 13 624 25120219 64296838386
name                            type data
zil_commit_count                4    10
zil_itx_metaslab_normal_bytes   4    0
X

# synthetic: two pools, one with I/O counters and a dataset, one suspended.
z=$OUT_PROC/spl/kstat/zfs
mkdir -p "$z/tank" "$z/backup"
cat > "$z/tank/io" <<'X'
14 3 0x00 1 80 1904553118 871220994021
nread    nwritten reads    writes   wtime    wlentime wupdate  rtime    rlentime rupdate  wcnt     rcnt
2510848  7340032  61       412      3004518  52131097 860519321 1201441  9801262  860519321 0  0
X
cat > "$z/tank/objset-0x36" <<'X'
31 1 0x01 7 2160 1904583337 871221040520
name                            type data
dataset_name                    7    tank/home
writes                          4    37
nwritten                        4    151552
reads                           4    9
nread                           4    36864
nunlinks                        4    2
nunlinked                       4    2
X
echo ONLINE > "$z/tank/state"
echo SUSPENDED > "$z/backup/state"

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

# synthetic: a coretemp hwmon chip, linked from /sys/class/hwmon as the
# kernel does.
h=$OUT_SYS/devices/platform/coretemp.0/hwmon/hwmon1
mkdir -p "$h" "$OUT_SYS/class/hwmon"
ln -s ../.. "$h/device"
ln -s ../../devices/platform/coretemp.0/hwmon/hwmon1 "$OUT_SYS/class/hwmon/hwmon1"
echo coretemp > "$h/name"
echo "Package id 0" > "$h/temp1_label"
echo 45000 > "$h/temp1_input"
echo 84000 > "$h/temp1_max"
echo 100000 > "$h/temp1_crit"
echo 0 > "$h/temp1_crit_alarm"
echo 1215 > "$h/fan1_input"
echo 1 > "$h/fan1_alarm"
echo 1196 > "$h/in0_input"
echo 12500000 > "$h/power1_average"
echo 1000 > "$h/update_interval"

# synthetic: XFS runtime statistics of one filesystem.
x=$OUT_SYS/fs/xfs/sda1/stats
mkdir -p "$x"
cat > "$x/stats" <<'X'
extent_alloc 92447 97589 92448 93751
abt 0 0 0 0
blk_map 1767055 188820 184891 92447 92448 2140766 0
bmbt 0 0 0 0
dir 185039 92447 92444 136422
trans 706 944304 0
ig 185045 58807 0 126238 0 33637 22
log 2883 113448 9 17360 739
rw 107739 94045
attr 4 0 0 0
icluster 8677 7849 135802
vnodes 92597 0 0 0 92444 92444 92444 0
buf 2666287 7122 2659202 3599 2 7085 0 10297 7085
xpc 399724544 92823103 86219234
debug 0
X

# synthetic: a single-device btrfs filesystem.
bt=$OUT_SYS/fs/btrfs/0abb23a9-579b-43e6-ad30-227ef47fcb9d
mkdir -p "$bt/allocation/data/single" "$bt/allocation/metadata/dup" "$bt/allocation/system/dup" "$bt/devices/sdb"
echo fixture > "$bt/label"
echo 16777216 > "$bt/allocation/global_rsv_size"
for g in data metadata system; do echo 0 > "$bt/allocation/$g/bytes_reserved"; done
echo 808189952 > "$bt/allocation/data/single/used_bytes"
echo 2147483648 > "$bt/allocation/data/single/total_bytes"
echo 933888 > "$bt/allocation/metadata/dup/used_bytes"
echo 1073741824 > "$bt/allocation/metadata/dup/total_bytes"
echo 16384 > "$bt/allocation/system/dup/used_bytes"
echo 8388608 > "$bt/allocation/system/dup/total_bytes"
echo 20971520 > "$bt/devices/sdb/size"
mkdir -p "$OUT_SYS/fs/btrfs/features"

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

# synthetic: a laptop battery.
ps=$OUT_SYS/class/power_supply/BAT0
mkdir -p "$ps"
echo Battery > "$ps/type"
echo Discharging > "$ps/status"
echo Li-ion > "$ps/technology"
echo 81 > "$ps/capacity"
echo 1 > "$ps/present"
echo 11610000 > "$ps/voltage_now"
echo 39540000 > "$ps/energy_now"
echo 57020000 > "$ps/energy_full"
echo 12 > "$ps/cycle_count"
echo 318 > "$ps/temp"

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

find "$HERE" -type f -printf "%s\n" | awk "{s+=\$1} END {print s \" bytes of fixture files\"}"
