using System.CommandLine;

namespace Tcpq.Commands;

/// <summary>An option whose values are an enum's members, shown and typed in lower case
/// (<c>csv|json|seed|none</c>). The enum's first member is the default.</summary>
internal static class EnumOption
{
    public static Option<T> Create<T>(string name, string alias, string description) where T : struct, Enum
    {
        string[] names = [.. Enum.GetNames<T>().Select(n => n.ToLowerInvariant())];
        string[] aliases = alias.Length > 0 ? [alias] : [];
        return new Option<T>(name, aliases)
        {
            HelpName = string.Join('|', names),
            Description = description,
            CustomParser = result =>
            {
                string text = result.Tokens[0].Value;
                if (names.Contains(text.ToLowerInvariant()) && Enum.TryParse<T>(text, ignoreCase: true, out var value)) return value;
                result.AddError($"bad {name} '{text}': one of {string.Join(", ", names)}");
                return default;
            },
        };
    }
}
