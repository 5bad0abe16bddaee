using Tcpq.Connections;

namespace Tcpq.Output;

/// <summary>Writes a summary in the format asked for.</summary>
public static class SummaryOutput
{
    public static void Write(TraceSummary summary, SummaryFormat format, Stream stream, bool terminal)
    {
        if (format == SummaryFormat.Json)
        {
            SummaryJsonWriter.Write(summary, stream);
            return;
        }
        using var w = new StreamWriter(stream, new System.Text.UTF8Encoding(false), 64 * 1024, leaveOpen: true);
        new SummaryTextWriter(w, terminal).Write(summary);
    }
}
