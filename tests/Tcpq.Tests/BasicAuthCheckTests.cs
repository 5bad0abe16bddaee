using Tcpq.Serve.Web;

namespace Tcpq.Tests;

/// <summary>Basic auth as exporter-toolkit checks it, with the bcrypt run replaced by a gate the
/// test opens, so that how many run at once and how many wait is exact.</summary>
public class BasicAuthCheckTests
{
    private const string Hash = "$2y$05$Wa9kUS4CtZvX6LcnYmb2ZuiHwvmXeH9KK45Xmdf0jirNWhgDCJJWC"; // "secret"

    [Fact]
    public async Task The_real_bcrypt_accepts_the_right_password_only()
    {
        var auth = new BasicAuthCheck(new Dictionary<string, string> { ["prometheus"] = Hash });
        Assert.Equal(BasicAuthCheck.Result.Allowed, await auth.CheckAsync("prometheus", "secret"));
        Assert.Equal(BasicAuthCheck.Result.Refused, await auth.CheckAsync("prometheus", "Secret"));
        Assert.Equal(BasicAuthCheck.Result.Refused, await auth.CheckAsync("nobody", "secret")); // hashed too: no enumeration by timing
        Assert.Equal(3, auth.Hashes);
    }

    [Fact]
    public async Task A_right_password_is_hashed_once_then_remembered()
    {
        int runs = 0;
        var auth = new BasicAuthCheck(new Dictionary<string, string> { ["p"] = Hash }, (password, _) => { runs++; return password == "secret"; });
        for (int i = 0; i < 10; i++) Assert.Equal(BasicAuthCheck.Result.Allowed, await auth.CheckAsync("p", "secret"));
        Assert.Equal(1, runs);
        for (int i = 0; i < 3; i++) Assert.Equal(BasicAuthCheck.Result.Refused, await auth.CheckAsync("p", "wrong"));
        Assert.Equal(4, runs); // a wrong one is never remembered as right
    }

    [Fact]
    public async Task A_flood_of_wrong_passwords_runs_one_hash_at_a_time_and_refuses_past_the_waiting_bound()
    {
        using var gate = new SemaphoreSlim(0);
        int running = 0, mostAtOnce = 0;
        var auth = new BasicAuthCheck(new Dictionary<string, string> { ["p"] = Hash }, (password, _) =>
        {
            int now = Interlocked.Increment(ref running);
            lock (gate) mostAtOnce = Math.Max(mostAtOnce, now);
            gate.Wait();
            Interlocked.Decrement(ref running);
            return password == "secret";
        });
        // the right password, remembered before the flood
        var first = Task.Run(() => auth.CheckAsync("p", "secret").AsTask());
        gate.Release();
        Assert.Equal(BasicAuthCheck.Result.Allowed, await first);

        var flood = Enumerable.Range(0, 40).Select(i => Task.Run(() => auth.CheckAsync("p", $"guess{i}").AsTask())).ToList();
        // everything past one running and MaxWaiting waiting is refused at once, without a hash
        Assert.True(SpinWait.SpinUntil(() => auth.BusyRefusals == 40 - 1 - BasicAuthCheck.MaxWaiting, TimeSpan.FromSeconds(30)), $"{auth.BusyRefusals} refused at once");
        // the scraper with the right password is not held by the flood
        Assert.Equal(BasicAuthCheck.Result.Allowed, await auth.CheckAsync("p", "secret"));
        gate.Release(40);
        var results = await Task.WhenAll(flood);
        Assert.Equal(40 - 1 - BasicAuthCheck.MaxWaiting, results.Count(r => r == BasicAuthCheck.Result.Busy));
        Assert.Equal(1 + BasicAuthCheck.MaxWaiting, results.Count(r => r == BasicAuthCheck.Result.Refused));
        Assert.Equal(1, mostAtOnce);
        Assert.Equal(1 + 1 + BasicAuthCheck.MaxWaiting, auth.Hashes);
    }

    [Theory]
    [InlineData("Basic cHJvbWV0aGV1czpzZWNyZXQ=", "prometheus", "secret")]
    [InlineData("basic cDphOmI=", "p", "a:b")] // the first colon splits
    public void Credentials_from_the_header(string header, string user, string password) =>
        Assert.Equal((user, password), BasicAuthCheck.Credentials(header));

    [Theory]
    [InlineData("")]
    [InlineData("Bearer abc")]
    [InlineData("Basic !!!")]
    [InlineData("Basic bm9jb2xvbg==")] // "nocolon"
    public void No_credentials(string header) => Assert.Null(BasicAuthCheck.Credentials(header));

    [Theory]
    [InlineData(Hash, true)]
    [InlineData("$2a$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi", true)]
    [InlineData("$2y$99$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi", false)]
    [InlineData("$1$abc", false)]
    [InlineData("secret", false)]
    public void Bcrypt_hashes(string text, bool ok) => Assert.Equal(ok, BasicAuthCheck.IsBcryptHash(text));
}
