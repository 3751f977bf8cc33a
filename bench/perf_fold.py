#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Where each CPU's time went, from `perf script -F comm,cpu,ip,sym` of a
`perf record -a -g` (bench/tcp_inflight.sh PROFILE=1): per CPU, the top
leaf functions (skipping the interrupt-enable frames a paravirtualised
guest charges deferred work to) by process, and the share of samples whose
stack holds each of a few TCP and syscall functions (tcp_sendmsg,
tcp_recvmsg, net_rx_action, __release_sock, tcp_write_xmit...).
Argument: how many leaf lines per CPU (12)."""
import sys, collections, re
# perf script -F cpu,comm,ip,sym output with callchains; aggregate per cpu
skip = {"pvm_irq_enable","__raw_callee_save_pvm_irq_enable","__local_bh_enable_ip","local_bh_enable","_raw_spin_unlock_bh","_raw_spin_unlock_irqrestore","irq_exit_rcu","__irq_exit_rcu","do_softirq","__do_softirq","handle_softirqs","release_sock","lock_sock_nested","[unknown]"}
marks = ["net_rx_action","tcp_v4_rcv","tcp_ack","tcp_write_xmit","tcp_recvmsg","tcp_sendmsg","tcp_rcv_established","__tcp_push_pending_frames","tcp_data_queue_ofo","tcp_retransmit_skb","_copy_to_iter","_copy_from_iter","__release_sock","tcp_v4_do_rcv","loopback_xmit","tcp_sack","tcp_ofo_queue","sched_yield","epoll_wait"]
per = collections.defaultdict(collections.Counter)
tot = collections.Counter()
mk = collections.defaultdict(collections.Counter)
cur=None; frames=[]
def flush():
    if cur is None: return
    cpu, comm = cur
    tot[cpu]+=1
    leaf = next((f for f in frames if f not in skip), frames[0] if frames else "?")
    per[cpu][comm.split('-')[0][:10]+":"+leaf]+=1
    s=set(frames)
    for m in marks:
        if m in s or any(f.startswith(m) for f in frames): mk[cpu][comm.split('-')[0][:10]+":"+m]+=1
for line in sys.stdin:
    if not line.strip():
        flush(); cur=None; frames=[]; continue
    if not line.startswith((' ','\t')):
        m = re.match(r'\s*(\S+(?: \S+)*?)\s+\[(\d+)\]', line)
        if m: cur=(int(m.group(2)), m.group(1)); frames=[]
        continue
    parts=line.split()
    if len(parts)>=2: frames.append(parts[1].split('+')[0])
flush()
for cpu in sorted(tot):
    print("cpu %d: %d samples"%(cpu,tot[cpu]))
    for k,v in per[cpu].most_common(int(sys.argv[1]) if len(sys.argv)>1 else 12): print("   %5.1f%% %s"%(100.0*v/tot[cpu],k))
    print("   stacks containing:")
    for k,v in sorted(mk[cpu].items(), key=lambda x:-x[1])[:16]: print("   %5.1f%% %s"%(100.0*v/tot[cpu],k))
