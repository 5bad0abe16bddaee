using System.Globalization;
using System.Text;
using Tcpq.Diag;

namespace Tcpq.Output;

/// <summary>One row per listener with the snapshot's time first, so --watch output appends cleanly.
/// The header is written once.</summary>
public sealed class ListenersCsvWriter(TextWriter output) : IListenersWriter
{
    public const string Header = "time,netns,local_address,local_port,q0,q,qmax,drops,owners," + WorkloadColumns;

    /// <summary>Where the listener runs (empty for the host's), named as serve's labels.</summary>
    public const string WorkloadColumns = "container_id,k8s_pod_uid,container_name,k8s_pod_name,k8s_namespace_name,k8s_container_name";

    private bool _headerWritten;

    public void Write(DateTime time, IReadOnlyList<ListenerQueue> rows, bool repeated)
    {
        var sb = new StringBuilder();
        if (!_headerWritten) sb.Append(Header).Append('\n');
        _headerWritten = true;
        string t = ListenersWriters.Time(time);
        foreach (var l in rows)
        {
            sb.Append(t).Append(',')
              .Append(l.NetNs.ToString(CultureInfo.InvariantCulture)).Append(',')
              .Append(l.LocalAddressText).Append(',')
              .Append(l.LocalPort.ToString(CultureInfo.InvariantCulture)).Append(',')
              .Append(l.Q0.ToString(CultureInfo.InvariantCulture)).Append(',')
              .Append(l.Q.ToString(CultureInfo.InvariantCulture)).Append(',')
              .Append(l.QMax.ToString(CultureInfo.InvariantCulture)).Append(',')
              .Append(l.Drops?.ToString(CultureInfo.InvariantCulture) ?? "").Append(',')
              .Append(CsvText.Quote(ListenersWriters.OwnersText(l)));
            var w = l.Workload;
            foreach (var value in (string?[])[w?.ContainerId, w?.PodUid, w?.ContainerName, w?.PodName, w?.Namespace, w?.K8sContainerName])
                sb.Append(',').Append(value ?? "");
            sb.Append('\n');
        }
        output.Write(sb.ToString());
        output.Flush();
    }
}
