using System.Security.Cryptography;
using System.Text;

namespace Tcpq.Serve.Web;

/// <summary>
/// Basic auth against bcrypt hashes, as exporter-toolkit checks it, so that a flood of wrong
/// passwords cannot burn the CPU: a bcrypt run costs tens of milliseconds by design, so at most
/// one runs at a time and at most <see cref="MaxWaiting"/> requests wait for it; past that a
/// request is refused at once (429, no hash). A password that was right is remembered (by a
/// SHA-256 of user, hash and password, never the password), so a scraper with the right password
/// pays one bcrypt run, and is not slowed by a flood of wrong ones. An unknown user is checked
/// against a fixed hash, so that answering takes as long as for a known one (no user enumeration
/// by timing).
/// </summary>
public sealed class BasicAuthCheck(IReadOnlyDictionary<string, string> users, Func<string, string, bool>? verify = null)
{
    public enum Result { Allowed, Refused, Busy }

    public const int MaxWaiting = 4;
    /// <summary>Right passwords remembered; only a right password adds one, so a flood cannot evict them.</summary>
    public const int MaxRemembered = 64;

    // exporter-toolkit's hash of "fakepassword", for users that do not exist
    private const string UnknownUserHash = "$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi";

    private readonly Func<string, string, bool> _verify = verify ?? ((password, hash) => BCrypt.Net.BCrypt.Verify(password, hash));
    private readonly SemaphoreSlim _hashing = new(1, 1);
    private readonly HashSet<string> _allowed = new(StringComparer.Ordinal);
    private int _waiting;
    private long _hashes, _busy;

    /// <summary>bcrypt runs so far (tcpq's own metric: the CPU auth has cost).</summary>
    public long Hashes => Interlocked.Read(ref _hashes);
    /// <summary>Requests refused without a hash because too many were waiting.</summary>
    public long BusyRefusals => Interlocked.Read(ref _busy);

    public async ValueTask<Result> CheckAsync(string user, string password, CancellationToken cancel = default)
    {
        bool known = users.TryGetValue(user, out var hash);
        hash ??= UnknownUserHash;
        var key = Key(user, hash, password);
        lock (_allowed)
            if (known && _allowed.Contains(key)) return Result.Allowed;

        if (Interlocked.Increment(ref _waiting) > MaxWaiting + 1)
        {
            Interlocked.Decrement(ref _waiting);
            Interlocked.Increment(ref _busy);
            return Result.Busy;
        }
        bool right;
        try
        {
            await _hashing.WaitAsync(cancel);
            try
            {
                Interlocked.Increment(ref _hashes);
                right = Verify(password, hash);
            }
            finally { _hashing.Release(); }
        }
        catch (OperationCanceledException) { return Result.Refused; } // the client went away while waiting
        finally { Interlocked.Decrement(ref _waiting); }

        if (!right || !known) return Result.Refused;
        lock (_allowed)
        {
            if (_allowed.Count >= MaxRemembered) _allowed.Clear(); // only right passwords land here: rare
            _allowed.Add(key);
        }
        return Result.Allowed;
    }

    private bool Verify(string password, string hash)
    {
        try { return _verify(password, hash); }
        catch (Exception e) when (e is BCrypt.Net.SaltParseException or ArgumentException) { return false; }
    }

    private static string Key(string user, string hash, string password) =>
        Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes($"{user}\0{hash}\0{password}")));

    /// <summary>The user and password of an <c>Authorization: Basic</c> header, or null.</summary>
    public static (string User, string Password)? Credentials(string header)
    {
        if (!header.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase)) return null;
        Span<byte> bytes = stackalloc byte[512];
        var encoded = header.AsSpan(6).Trim();
        if (!Convert.TryFromBase64Chars(encoded, bytes, out int n)) return null;
        var text = Encoding.UTF8.GetString(bytes[..n]);
        int colon = text.IndexOf(':');
        return colon < 0 ? null : (text[..colon], text[(colon + 1)..]);
    }

    /// <summary>A bcrypt hash as htpasswd -B and Go's bcrypt write it: $2a$, $2b$ or $2y$, a cost, 53 characters.</summary>
    public static bool IsBcryptHash(string s) =>
        s.Length == 60 && s[0] == '$' && s[1] == '2' && s[2] is 'a' or 'b' or 'y' && s[3] == '$'
        && char.IsAsciiDigit(s[4]) && char.IsAsciiDigit(s[5]) && s[6] == '$'
        && int.Parse(s.AsSpan(4, 2), provider: System.Globalization.CultureInfo.InvariantCulture) is >= 4 and <= 31;
}
