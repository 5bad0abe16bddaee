using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Tcpq.Commands;
using Tcpq.Events;
using Tcpq.Output;

namespace Tcpq.Tests;

/// <summary>The README and docs/ say what the tool does. Where a machine can tell (a header, a verb,
/// an option, an action, an exit code, a summary field, a link), these fail when the pages and the
/// code drift apart. The real sessions in the pages are checked by whoever takes them, not here.</summary>
public partial class DocsTests
{
    private static readonly string Root = FindRoot();

    private static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir != null && !File.Exists(Path.Combine(dir.FullName, "tcpq.slnx"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("the repository root (tcpq.slnx) is not above " + AppContext.BaseDirectory);
    }

    private static string Read(string relative) => File.ReadAllText(Path.Combine(Root, relative));

    /// <summary>README.md and every page in docs/, as paths relative to the root.</summary>
    private static IReadOnlyList<string> Pages() =>
        [
            "README.md",
            .. Directory.GetFiles(Path.Combine(Root, "docs"), "*.md").Select(p => Path.GetRelativePath(Root, p)).Order(StringComparer.Ordinal),
        ];

    /// <summary>A page's lines outside fenced code blocks, and those inside.</summary>
    private static (List<string> Prose, List<string> Code) Split(string text)
    {
        var prose = new List<string>();
        var code = new List<string>();
        bool inCode = false;
        foreach (var line in text.Split('\n'))
        {
            if (line.TrimStart().StartsWith("```", StringComparison.Ordinal)) { inCode = !inCode; continue; }
            (inCode ? code : prose).Add(line);
        }
        return (prose, code);
    }

    /// <summary>What <c>tcpq [VERB] --help</c> prints.</summary>
    private static string Help(params string[] verb)
    {
        var console = new TestConsole();
        Assert.Equal(0, TcpqProgram.Run([.. verb, "--help"], console.Console));
        return console.Out;
    }

    /// <summary>The lines of one section of the help ("Commands:", "Options:"), up to the next blank line.</summary>
    private static IEnumerable<string> HelpSection(string help, string title) =>
        help.Split('\n').SkipWhile(l => l.TrimEnd() != title).Skip(1).TakeWhile(l => l.Trim().Length > 0);

    private static IReadOnlyList<string> Verbs() =>
        [.. HelpSection(Help(), "Commands:").Select(l => l.Trim().Split(' ')[0])];

    [GeneratedRegex(@"^\s+(?:-\S+, )*(--[a-z0-9-]+)")]
    private static partial Regex LongOption();

    private static IReadOnlyList<string> Options(string verb) =>
        [.. HelpSection(Help(verb), "Options:").Select(l => LongOption().Match(l)).Where(m => m.Success)
            .Select(m => m.Groups[1].Value).Where(o => o != "--help")];

    private static bool Mentions(string text, string option) =>
        Regex.IsMatch(text, $@"(?<![\w-]){Regex.Escape(option)}(?![\w-])");

    [Fact]
    public void The_csv_header_on_the_trace_page_is_the_one_trace_writes()
    {
        string header = Encoding.UTF8.GetString(CsvEventWriter.Header).TrimEnd('\n');
        Assert.Equal(20, header.Split(',').Length);
        Assert.Contains(header, Split(Read("docs/trace.md")).Code);
        // the older header report still reads is documented as such
        Assert.Contains(Encoding.UTF8.GetString(CsvEventWriter.Header15).TrimEnd('\n'), Split(Read("docs/trace.md")).Code);
    }

    [Fact]
    public void Every_csv_header_in_the_pages_is_one_tcpq_writes_or_reads()
    {
        var known = new HashSet<string>(StringComparer.Ordinal)
        {
            Encoding.UTF8.GetString(CsvEventWriter.Header).TrimEnd('\n'),
            Encoding.UTF8.GetString(CsvEventWriter.Header15).TrimEnd('\n'),
            Encoding.UTF8.GetString(SeedEventWriter.Header).TrimEnd('\n'),
        };
        foreach (var page in Pages())
            foreach (var line in Split(Read(page)).Code.Where(l => l.StartsWith("TS,Date,", StringComparison.Ordinal)))
                Assert.True(known.Contains(line.TrimEnd('\r')), $"{page}: a csv header tcpq neither writes nor reads: {line}");
    }

    [Fact]
    public void Every_verb_in_the_help_has_a_row_in_the_README_and_a_page()
    {
        var verbs = Verbs();
        Assert.Contains("trace", verbs); // the help was parsed
        string readme = Read("README.md");
        foreach (var verb in verbs)
        {
            Assert.Contains($"| [`{verb}`](docs/{verb}.md) |", readme);
            Assert.True(File.Exists(Path.Combine(Root, "docs", verb + ".md")), $"docs/{verb}.md is missing");
        }
    }

    [Fact]
    public void Every_option_of_a_verb_is_on_its_page()
    {
        foreach (var verb in Verbs())
        {
            var options = Options(verb);
            Assert.NotEmpty(options);
            string page = Read($"docs/{verb}.md");
            var missing = options.Where(o => !Mentions(page, o)).ToList();
            Assert.True(missing.Count == 0, $"docs/{verb}.md does not mention {string.Join(", ", missing)}");
        }
    }

    [Fact]
    public void Every_action_has_a_row_in_the_docs()
    {
        string tables = Read("docs/trace.md") + Read("docs/dotnet.md");
        foreach (var kind in EventKinds.All)
            Assert.Contains($"| `{EventKinds.Name(kind)}` |", tables);
    }

    [GeneratedRegex(@"^\| (\d+) \|")]
    private static partial Regex ExitCodeRow();

    [Fact]
    public void The_exit_codes_table_is_the_ExitCode_enum()
    {
        var rows = Split(Read("docs/trace.md")).Prose.Select(l => ExitCodeRow().Match(l)).Where(m => m.Success)
            .Select(m => int.Parse(m.Groups[1].Value)).ToList();
        Assert.Equal(Enum.GetValues<ExitCode>().Select(c => (int)c), rows);
    }

    [Fact]
    public void Every_field_of_the_json_summary_is_documented()
    {
        var console = new TestConsole();
        var options = new ReportOptions(Path.Combine(AppContext.BaseDirectory, "Fixtures", "seed-sample.csv"), SummaryFormat.Json, false);
        Assert.Equal(0, new ReportCommand(options, console.Console).Run());
        using var doc = JsonDocument.Parse(console.Out);
        var fields = new SortedSet<string>(StringComparer.Ordinal);
        Collect(doc.RootElement, fields);
        Assert.Contains("queue_full_share", fields); // the walk reached the ports
        string page = Read("docs/diagnosis.md");
        var missing = fields.Where(f => !page.Contains($"`{f}`", StringComparison.Ordinal) && !page.Contains($"`{f}[]`", StringComparison.Ordinal)).ToList();
        Assert.True(missing.Count == 0, $"docs/diagnosis.md does not name {string.Join(", ", missing)}");
    }

    /// <summary>Every property name, except the keys of the objects that map a reason or a closer to a count.</summary>
    private static void Collect(JsonElement e, ISet<string> fields)
    {
        if (e.ValueKind == JsonValueKind.Array)
            foreach (var item in e.EnumerateArray()) Collect(item, fields);
        if (e.ValueKind != JsonValueKind.Object) return;
        foreach (var p in e.EnumerateObject())
        {
            fields.Add(p.Name);
            if (p.Name is not ("drops" or "aborts" or "closed_by")) Collect(p.Value, fields);
        }
    }

    [GeneratedRegex(@"\[[^\]]*\]\(([^)\s]+)\)")]
    private static partial Regex MarkdownLink();

    [Fact]
    public void Every_relative_link_points_to_a_file_and_heading_that_exist()
    {
        var broken = new List<string>();
        int checkedLinks = 0;
        foreach (var page in Pages())
        {
            foreach (var line in Split(Read(page)).Prose)
                foreach (Match m in MarkdownLink().Matches(line))
                {
                    string target = m.Groups[1].Value;
                    if (target.Contains("://", StringComparison.Ordinal) || target.StartsWith("mailto:", StringComparison.Ordinal)) continue;
                    checkedLinks++;
                    int hash = target.IndexOf('#');
                    string path = hash < 0 ? target : target[..hash];
                    string? anchor = hash < 0 ? null : target[(hash + 1)..];
                    string file = path.Length == 0 ? Path.Combine(Root, page) : Path.GetFullPath(Path.Combine(Root, Path.GetDirectoryName(page)!, path));
                    if (!File.Exists(file) && !Directory.Exists(file)) broken.Add($"{page}: {target} (no such file)");
                    else if (anchor is not null && !Anchors(File.ReadAllText(file)).Contains(anchor)) broken.Add($"{page}: {target} (no such heading)");
                }
        }
        Assert.True(checkedLinks > 20, $"only {checkedLinks} relative links found: is the link pattern right?");
        Assert.True(broken.Count == 0, string.Join("\n", broken));
    }

    /// <summary>The anchors GitHub gives a page's headings: lower case, spaces to hyphens, other
    /// punctuation dropped; a repeated heading gets -1, -2….</summary>
    private static HashSet<string> Anchors(string markdown)
    {
        var anchors = new HashSet<string>(StringComparer.Ordinal);
        foreach (var line in Split(markdown).Prose.Where(l => l.StartsWith('#')))
        {
            var slug = new StringBuilder();
            foreach (char c in line.TrimStart('#').Trim().ToLowerInvariant())
                if (char.IsLetterOrDigit(c) || c is '-' or '_') slug.Append(c);
                else if (c == ' ') slug.Append('-');
            string s = slug.ToString();
            for (int n = 1; !anchors.Add(s); n++) s = $"{slug}-{n}";
        }
        return anchors;
    }

    [Fact]
    public void The_anchors_are_GitHubs()
    {
        var anchors = Anchors("# tcpq\n## Without eBPF: `--backend diag`\n## .NET servers\n```\n# not a heading\n```\n## Options\n## Options\n");
        string[] expected = ["tcpq", "without-ebpf---backend-diag", "net-servers", "options", "options-1"];
        Assert.True(anchors.SetEquals(expected), string.Join(", ", anchors));
    }

    [Fact]
    public void The_README_is_a_front_page()
    {
        int lines = Read("README.md").TrimEnd('\n').Split('\n').Length;
        Assert.True(lines <= 250, $"README.md has {lines} lines: move detail to a page in docs/");
    }
}
