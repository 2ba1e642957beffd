using System.Globalization;

namespace ProxTunnel.Certificates;

/// <summary>
/// The Mozilla public suffix list (ICANN and private sections, with <c>*</c> and <c>!</c> rules), shipped as the
/// embedded resource <c>ProxTunnel.public_suffix_list.dat</c>. Names are compared in their ASCII (punycode) form.
/// </summary>
internal sealed class PublicSuffixList
{
    private const string ResourceName = "ProxTunnel.public_suffix_list.dat";

    private static readonly Lazy<PublicSuffixList> Embedded = new(LoadEmbedded);

    private readonly HashSet<string> _rules = new(StringComparer.Ordinal);
    private readonly HashSet<string> _wildcardParents = new(StringComparer.Ordinal);
    private readonly HashSet<string> _exceptions = new(StringComparer.Ordinal);

    private PublicSuffixList(TextReader reader)
    {
        var idn = new IdnMapping();
        while (reader.ReadLine() is { } line)
        {
            // A rule is the first whitespace-delimited word of a line; comments start with "//".
            var rule = line.AsSpan().Trim();
            var space = rule.IndexOfAny(' ', '\t');
            if (space >= 0)
            {
                rule = rule[..space];
            }

            if (rule.IsEmpty || rule.StartsWith("//", StringComparison.Ordinal))
            {
                continue;
            }

            var set = _rules;
            if (rule[0] == '!')
            {
                set = _exceptions;
                rule = rule[1..];
            }
            else if (rule.StartsWith("*.", StringComparison.Ordinal))
            {
                set = _wildcardParents;
                rule = rule[2..];
            }

            if (ToAscii(idn, rule.ToString()) is { } ascii)
            {
                set.Add(ascii);
            }
        }
    }

    /// <summary>The list compiled into the library.</summary>
    internal static PublicSuffixList Default => Embedded.Value;

    /// <summary>Number of rules, for diagnostics and tests.</summary>
    internal int RuleCount => _rules.Count + _wildcardParents.Count + _exceptions.Count;

    /// <summary>The public suffix of a lower-case ASCII domain name (the implicit <c>*</c> rule applies to unknown TLDs).</summary>
    internal string GetPublicSuffix(string domain)
    {
        // Walk from the whole name towards the TLD, so the first match is the longest one.
        var start = 0;
        while (true)
        {
            var candidate = domain[start..];
            var dot = domain.IndexOf('.', start);
            var parent = dot < 0 ? null : domain[(dot + 1)..];
            if (_exceptions.Contains(candidate))
            {
                // "!www.ck" overrides "*.ck": the suffix is the exception's parent.
                return parent ?? candidate;
            }

            if (_rules.Contains(candidate) || (parent is not null && _wildcardParents.Contains(parent)))
            {
                return candidate;
            }

            if (parent is null)
            {
                return candidate;
            }

            start = dot + 1;
        }
    }

    /// <summary>True when <paramref name="domain"/> is itself a public suffix (nobody can register directly below it... or it is).</summary>
    internal bool IsPublicSuffix(string domain) => GetPublicSuffix(domain).Length == domain.Length;

    /// <summary>Reads a list in the publicsuffix.org format.</summary>
    internal static PublicSuffixList Parse(TextReader reader) => new(reader);

    private static PublicSuffixList LoadEmbedded()
    {
        using var stream = typeof(PublicSuffixList).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"Embedded resource {ResourceName} is missing.");
        using var reader = new StreamReader(stream);
        return new PublicSuffixList(reader);
    }

    private static string? ToAscii(IdnMapping idn, string rule)
    {
        if (System.Text.Ascii.IsValid(rule))
        {
            return rule.ToLowerInvariant();
        }

        try
        {
            return idn.GetAscii(rule);
        }
        catch (ArgumentException)
        {
            // A rule the IDNA mapping rejects can never match a normalized host name.
            return null;
        }
    }
}
