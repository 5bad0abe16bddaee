using System.Text.RegularExpressions;

namespace Tcpq.Serve;

/// <summary>A URL as tcpq prints it: never the credentials a user put in it (<c>user:password@</c>
/// becomes <c>…@</c>, a query string <c>?…</c>, as tokens travel there), everything else as given.</summary>
public static partial class RedactedUrl
{
    public static string Of(Uri url)
    {
        if (url.UserInfo.Length == 0 && url.Query.Length == 0) return url.ToString();
        var b = new UriBuilder(url) { UserName = "", Password = "", Query = "" };
        var text = b.Uri.GetComponents(UriComponents.SchemeAndServer | UriComponents.Path, UriFormat.UriEscaped);
        if (url.UserInfo.Length > 0) text = text.Replace("://", "://…@", StringComparison.Ordinal);
        return url.Query.Length > 0 ? text + "?…" : text;
    }

    /// <summary>The same for text that may not even parse as a URL (a bad flag's value, echoed).</summary>
    public static string Of(string text)
    {
        if (Uri.TryCreate(text.Trim(), UriKind.Absolute, out var url) && url.Scheme is "http" or "https") return Of(url);
        return Query().Replace(UserInfo().Replace(text, "${scheme}…@"), "?…");
    }

    [GeneratedRegex(@"(?<scheme>[A-Za-z][A-Za-z0-9+.-]*://)?[^/?#@]*@")]
    private static partial Regex UserInfo();

    [GeneratedRegex(@"\?.*$")]
    private static partial Regex Query();
}
