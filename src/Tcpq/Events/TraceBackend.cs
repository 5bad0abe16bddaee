namespace Tcpq.Events;

/// <summary>Where the events come from: the eBPF programs (exact), or sock_diag sampled at an
/// interval (for machines that cannot load eBPF). trace, top and serve take it as --backend.</summary>
public enum TraceBackend { Ebpf, Diag }
