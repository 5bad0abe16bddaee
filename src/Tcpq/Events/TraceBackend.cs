using Tcpq.Bpf;
using Tcpq.Events;
using Tcpq.Output;

namespace Tcpq.Events;

/// <summary>Where <c>tcpq trace</c> gets its events: the eBPF programs (exact), or sock_diag
/// sampled at an interval (for machines that cannot load eBPF).</summary>
public enum TraceBackend { Ebpf, Diag }
