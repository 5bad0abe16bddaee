using System.Text.RegularExpressions;

namespace Tcpq.Tests;

/// <summary>docs/architecture.md's table of folders is the rule, read from the markdown: a C#
/// folder that imports a folder its row does not list fails here, and so does a folder with no row.
/// An import is a <c>using Tcpq.X</c> or a name written out in full (<c>Dotnet.DotnetTarget</c>).</summary>
public partial class ArchitectureTests
{
    private static readonly string Root = FindRoot();
    private static string Source => Path.Combine(Root, "src", "Tcpq");

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "docs", "architecture.md")) && Directory.Exists(Path.Combine(dir.FullName, "src", "Tcpq")))
                return dir.FullName;
        throw new InvalidOperationException($"no docs/architecture.md above {AppContext.BaseDirectory}");
    }

    private static List<string> Folders() =>
        [.. Directory.GetDirectories(Source).Select(d => Path.GetFileName(d)!).Where(d => d is not ("bin" or "obj")).Order()];

    [Fact]
    public void Every_folder_imports_only_what_its_row_in_the_architecture_table_allows()
    {
        var folders = Folders();
        var allowed = AllowedImports(File.ReadAllLines(Path.Combine(Root, "docs", "architecture.md")), folders);
        Assert.Equal(folders, allowed.Keys.Order()); // a row for every folder, none for a folder that is gone

        var types = DeclaredTypes(folders);
        var outside = new List<string>();
        foreach (var folder in folders)
            foreach (var file in Directory.EnumerateFiles(Path.Combine(Source, folder), "*.cs", SearchOption.AllDirectories))
                foreach (var imported in ImportsOf(File.ReadAllText(file), types))
                    if (imported != folder && !allowed[folder].Contains(imported))
                        outside.Add($"{Path.GetRelativePath(Root, file)} imports {imported}, which its row in docs/architecture.md does not list");
        Assert.True(outside.Count == 0, string.Join("\n", outside));
    }

    [Fact]
    public void The_check_sees_usings_and_full_names_but_not_comments_strings_or_members()
    {
        var types = new Dictionary<string, HashSet<string>>
        {
            ["Dotnet"] = ["DotnetTarget"], ["Diag"] = ["NetlinkMessages"], ["Events"] = [], ["Serve"] = ["ListenerMetrics"],
            ["Aggregates"] = ["IAggregateSource"], ["Output"] = ["CsvText"], ["Connections"] = [],
        };
        const string code = """
            using Tcpq.Events;
            using static Tcpq.Diag.NetlinkMessages;
            namespace Tcpq.Top;
            /// <summary>see <see cref="Serve.ListenerMetrics"/></summary>
            public sealed class A(Aggregates.IAggregateSource source) // Serve.ListenerMetrics in a comment
            {
                public Dotnet.DotnetTarget Target { get; } = default;
                private readonly string _s = "Output.CsvText";
                private readonly char _q = '"';
                public void F() { source.Dispose(); Aggregates.Dispose(); Tcpq.Connections.Diagnosis.Rulebook.S(1); }
            }
            """;
        Assert.Equal(["Aggregates", "Connections", "Diag", "Dotnet", "Events"], ImportsOf(code, types).Order());
    }

    [Fact]
    public void The_table_is_read_as_the_docs_write_it()
    {
        string[] doc =
        [
            "| folder | owns | may import |",
            "|---|---|---|",
            "| `bpf/` | the kernel programs | vmlinux.h (generated at build) |",
            "| `Events/` | the seam | — |",
            "| `Top/` | the live view | Aggregates, Dotnet (`DotnetTarget`, the type of `--dotnet`), Events |",
            "| `Commands/` | one class per verb | everything |",
        ];
        var allowed = AllowedImports(doc, ["Commands", "Dotnet", "Events", "Aggregates", "Top"]);
        Assert.Empty(allowed["Events"]);
        Assert.Equal(["Aggregates", "Dotnet", "Events"], allowed["Top"].Order());
        Assert.Equal(["Aggregates", "Commands", "Dotnet", "Events", "Top"], allowed["Commands"].Order());
        Assert.False(allowed.ContainsKey("bpf"));
        Assert.Throws<InvalidOperationException>(() => AllowedImports([.. doc, "| `Serve/` | exporters | Aggregates, Evnets |"], ["Aggregates", "Events", "Serve"]));
    }

    /// <summary>Folder → the folders it may import, from the table whose header is
    /// "| folder | owns | may import |"; rows for what is not a C# folder (bpf/) are left out.</summary>
    private static Dictionary<string, HashSet<string>> AllowedImports(IEnumerable<string> markdown, IReadOnlyCollection<string> folders)
    {
        var allowed = new Dictionary<string, HashSet<string>>();
        bool inTable = false;
        foreach (var line in markdown)
        {
            var cells = line.Trim().Trim('|').Split('|').Select(c => c.Trim()).ToArray();
            if (cells is ["folder", "owns", "may import"]) { inTable = true; continue; }
            if (!inTable || cells.Length < 3 || cells[0].StartsWith("---", StringComparison.Ordinal)) continue;
            if (!line.TrimStart().StartsWith('|')) break;
            string folder = cells[0].Trim('`').TrimEnd('/');
            if (!folders.Contains(folder)) continue;
            string may = cells[^1];
            var set = new HashSet<string>();
            if (may == "everything") set.UnionWith(folders);
            else if (may != "—")
                foreach (var item in may.Split(','))
                {
                    // "Dotnet (`DotnetTarget`, the type of --dotnet)": the words before a note; a note's commas are not items
                    string name = item.Split('(')[0].Trim().Trim('`').TrimEnd('/');
                    if (name.Length == 0 || !char.IsUpper(name[0])) continue; // a note's second half
                    if (!folders.Contains(name)) throw new InvalidOperationException($"the row of {folder}/ names {name}, which is no folder of src/Tcpq");
                    set.Add(name);
                }
            allowed[folder] = set;
        }
        return allowed;
    }

    /// <summary>The types each folder declares, for telling <c>Dotnet.DotnetTarget</c> (an import)
    /// from <c>options.Dotnet.Enabled</c> or a property named like a folder (none).</summary>
    private static Dictionary<string, HashSet<string>> DeclaredTypes(IEnumerable<string> folders) =>
        folders.ToDictionary(f => f, f => Directory.EnumerateFiles(Path.Combine(Source, f), "*.cs", SearchOption.AllDirectories)
            .SelectMany(file => TypeDeclaration().Matches(File.ReadAllText(file)).Select(m => m.Groups[1].Value))
            .ToHashSet());

    /// <summary>The src/Tcpq folders a file imports: <c>using [static] Tcpq.X…</c>, and names of
    /// X's types (or its sub-namespaces, <c>Connections.Diagnosis</c>) written out in code.</summary>
    private static HashSet<string> ImportsOf(string source, IReadOnlyDictionary<string, HashSet<string>> types)
    {
        string code = CharLiteral().Replace(source, "' '");
        code = StringLiteral().Replace(code, "\"\"");
        code = LineComment().Replace(code, "");
        var found = new HashSet<string>();
        foreach (Match m in UsingTcpq().Matches(code))
            if (types.ContainsKey(m.Groups[1].Value)) found.Add(m.Groups[1].Value);
        foreach (Match m in QualifiedName().Matches(code))
        {
            string folder = m.Groups[2].Value, next = m.Groups[3].Value;
            if (!types.TryGetValue(folder, out var declared)) continue;
            bool fromRoot = m.Groups[1].Success; // Tcpq.X.anything
            if (fromRoot || declared.Contains(next) || (next.Length > 0 && char.IsUpper(next[0]) && Directory.Exists(Path.Combine(Source, folder, next))))
                found.Add(folder);
        }
        return found;
    }

    [GeneratedRegex(@"\b(?:class|struct|interface|enum|record(?:\s+struct|\s+class)?|delegate\s+\w+)\s+([A-Z]\w*)")]
    private static partial Regex TypeDeclaration();

    [GeneratedRegex(@"'(?:\\.|[^'\\\n])'")]
    private static partial Regex CharLiteral();

    [GeneratedRegex(@"""(?:\\.|[^""\\\n])*""")]
    private static partial Regex StringLiteral();

    [GeneratedRegex(@"//[^\n]*")]
    private static partial Regex LineComment();

    [GeneratedRegex(@"\busing\s+(?:static\s+)?Tcpq\.(\w+)")]
    private static partial Regex UsingTcpq();

    [GeneratedRegex(@"(?<![\w.])(Tcpq\.)?([A-Z]\w*)\.([A-Za-z_]\w*)")]
    private static partial Regex QualifiedName();
}
