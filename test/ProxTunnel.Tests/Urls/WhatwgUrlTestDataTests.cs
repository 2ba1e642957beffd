using System.Text;
using System.Text.Json.Nodes;
using ProxTunnel.Rewriting;
using ProxTunnel.Urls;

namespace ProxTunnel.Tests.Urls;

/// <summary>
/// web-platform-tests' URL test data as an oracle (see urltestdata.SOURCE.md): every case whose input is an absolute
/// http(s) URL, sent as a proxy's absolute-form target, must give WHATWG's <c>hostname</c> and <c>pathname</c>, or be
/// refused where WHATWG fails; every other http(s) result (a relative input resolved against its base) is sent as its
/// <c>href</c> and must come back as it is. Cases outside the contract are counted by reason, never silently dropped.
/// </summary>
public sealed class WhatwgUrlTestDataTests
{
    private static readonly string DataPath = Path.Combine(TestContext.CurrentContext.TestDirectory, "Urls", "urltestdata.json");

    [Test]
    public void HostAndPath_MatchWhatwgUrlTestData_ForEveryHttpCase()
    {
        var entries = JsonNode.Parse(File.ReadAllText(DataPath))!.AsArray().OfType<JsonObject>().ToList();
        var tally = new SortedDictionary<string, int>(StringComparer.Ordinal);
        var mismatches = new List<string>();
        foreach (var entry in entries)
        {
            var input = Preprocess((string)entry["input"]!);
            string outcome;
            if (IsAbsoluteHttp(input))
            {
                outcome = entry["failure"] is not null ? CheckFailure(input) : CheckValid(input, entry);
            }
            else if (entry["failure"] is null && (string?)entry["protocol"] is "http:" or "https:")
            {
                // A relative input resolved against its base: the result, sent as a target, must come back unchanged.
                outcome = "href: " + CheckValid((string)entry["href"]!, entry);
                input = (string)entry["href"]!;
            }
            else
            {
                continue;
            }

            if (outcome.Contains("MISMATCH", StringComparison.Ordinal))
            {
                mismatches.Add($"{Escape(input)}: {outcome}");
            }
            else
            {
                tally[outcome] = tally.GetValueOrDefault(outcome) + 1;
            }
        }

        foreach (var (outcome, count) in tally)
        {
            TestContext.Out.WriteLine($"{count,4}  {outcome}");
        }

        Assert.Multiple(() =>
        {
            Assert.That(mismatches, Is.Empty);
            Assert.That(tally.GetValueOrDefault(Outcome.Equal), Is.GreaterThan(100), "cases compared byte for byte");
            Assert.That(tally.GetValueOrDefault(Outcome.BothRefuse), Is.GreaterThan(50), "invalid URLs refused as WHATWG refuses them");
        });
    }

    private static bool IsAbsoluteHttp(string input)
        => input.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || input.StartsWith("https://", StringComparison.OrdinalIgnoreCase);

    /// <summary>What a browser does to the URL text before parsing (and before it could be sent).</summary>
    private static string Preprocess(string input)
        => input.Trim(Enumerable.Range(0, 0x21).Select(c => (char)c).ToArray()).Replace("\t", "", StringComparison.Ordinal)
            .Replace("\n", "", StringComparison.Ordinal).Replace("\r", "", StringComparison.Ordinal);

    private static string CheckFailure(string input)
    {
        var bytes = Encoding.UTF8.GetBytes(input);
        return TargetBuilder.ParseAbsolute(bytes, out _, out _, out _, out _) == RejectReason.None
            ? "MISMATCH: WHATWG fails this URL, the builder accepts it"
            : Outcome.BothRefuse;
    }

    private static string CheckValid(string input, JsonObject entry)
    {
        var expectedHost = (string)entry["hostname"]!;
        var expectedPath = (string)entry["pathname"]!;
        var bytes = Encoding.UTF8.GetBytes(input);
        if (TargetBuilder.ParseAbsolute(bytes, out var https, out var hostRange, out var port, out var pathRange) != RejectReason.None)
        {
            return RefusalWithinContract(input, entry) ?? "MISMATCH: refused a valid URL";
        }

        // Canonical host: WHATWG's hostname, less the trailing dot the contract drops.
        var hostLength = TargetBuilder.AuthorityLength(https, bytes[hostRange], port);
        var authority = new byte[hostLength];
        TargetBuilder.WriteAuthority(authority, https, bytes[hostRange], port);
        var host = Encoding.ASCII.GetString(authority);
        if (!TargetBuilder.IsDefaultPort(https, port))
        {
            host = host[..host.LastIndexOf(':')];
        }

        var wantedHost = expectedHost.Length > 1 && expectedHost.EndsWith('.') ? expectedHost[..^1] : expectedHost;
        if (host != wantedHost)
        {
            return $"MISMATCH: host '{host}', WHATWG '{expectedHost}'";
        }

        var written = new byte[TargetBuilder.PathAndQueryLength(bytes.AsSpan(pathRange))];
        var length = TargetBuilder.WritePathAndQuery(written, bytes.AsSpan(pathRange));
        if (length != written.Length)
        {
            return $"MISMATCH: PathAndQueryLength {written.Length} but WritePathAndQuery wrote {length}";
        }

        var pathAndQuery = Encoding.UTF8.GetString(written);
        var path = pathAndQuery.Split('?')[0];
        if (path == expectedPath)
        {
            return wantedHost == expectedHost ? Outcome.Equal : Outcome.EqualButTrailingDot;
        }

        // WHATWG percent-encodes bytes we copy verbatim (space, quotes, braces, non-ASCII): equal once decoded.
        return Uri.UnescapeDataString(path) == Uri.UnescapeDataString(expectedPath)
            ? Outcome.DecodedEqual
            : $"MISMATCH: path '{Escape(path)}', WHATWG '{expectedPath}'";
    }

    /// <summary>Why the contract refuses a URL WHATWG accepts, or null when it has no reason to.</summary>
    private static string? RefusalWithinContract(string input, JsonObject entry)
    {
        var expectedHost = (string)entry["hostname"]!;
        var host = expectedHost.EndsWith('.') ? expectedHost[..^1] : expectedHost;
        var rest = input[(input.IndexOf("//", StringComparison.Ordinal) + 2)..];
        var authority = rest[..(rest.IndexOfAny(['/', '\\', '?', '#']) is var end and >= 0 ? end : rest.Length)];
        if (authority.Contains('@', StringComparison.Ordinal))
        {
            return Outcome.Userinfo;
        }

        if ((string?)entry["port"] == "0" || authority.Contains(':', StringComparison.Ordinal) && !authority.EndsWith(']')
            && authority[(authority.LastIndexOf(':') + 1)..].Length > 5)
        {
            return Outcome.Port;
        }

        if (!host.StartsWith('[') && host.Any(c => !(char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '-' or '.' or '_')))
        {
            return Outcome.Punctuation;
        }

        if (host.Split('.').Any(label => label.Length is 0 or > 63) || host.Length > HostName.MaxLength)
        {
            return Outcome.Labels;
        }

        return null;
    }

    private static string Escape(string text) => string.Concat(text.Select(c => c is < ' ' or > '~' ? $"\\u{(int)c:x4}" : c.ToString()));

    private static class Outcome
    {
        public const string Equal = "host and path equal WHATWG's";
        public const string EqualButTrailingDot = "equal, WHATWG's trailing dot on the host dropped (contract)";
        public const string DecodedEqual = "path equal once percent-decoded (WHATWG encodes bytes the contract copies verbatim)";
        public const string BothRefuse = "WHATWG fails, the builder refuses";
        public const string Userinfo = "skipped: userinfo in a request target is refused (RFC 9110 §4.2.4)";
        public const string Port = "skipped: port 0 or over five digits is refused (contract: 1-65535)";
        public const string Punctuation = "skipped: DNS name with punctuation WHATWG admits but a certificate cannot name";
        public const string Labels = "skipped: empty or over-long DNS label is refused";
    }
}
