using System.Text;
using ProxTunnel.Http2;

namespace ProxTunnel.Tests.Http2;

/// <summary>
/// The dynamic table against a plain list model (RFC 7541 §4: newest first, evict oldest while over the size, an entry
/// larger than the table empties it): its storage starts small and grows, wraps and compacts, and must never show it.
/// </summary>
[TestFixture]
public sealed class HpackDynamicTableTests
{
    [TestCase(4096, 1)]
    [TestCase(4096, 2)]
    [TestCase(4096, 3)]
    [TestCase(256, 4)]
    [TestCase(65536, 5)]
    [TestCase(64, 6)]
    public void Table_MatchesTheListModel_ThroughGrowthWrapsCompactionsAndSizeUpdates(int limit, int seed)
    {
        var random = new Random(seed);
        using var table = new HpackDynamicTable(limit);
        var model = new List<(string Name, string Value)>();
        var maxSize = limit;
        for (var step = 0; step < 3000; step++)
        {
            if (random.Next(100) == 0)
            {
                maxSize = random.Next(limit + 1);
                Assert.That(table.SetMaxSize(maxSize), Is.True);
                Evict(model, maxSize);
            }
            else
            {
                // Mostly small entries, like browser headers, now and then one near or above the table's size.
                var length = random.Next(10) == 0 ? random.Next(limit + 64) : random.Next(80);
                var name = new string((char)('a' + step % 26), 1 + random.Next(Math.Max(1, length / 3)));
                var value = Convert.ToHexString(BitConverter.GetBytes(step)) + new string('v', random.Next(Math.Max(1, length)));
                table.Add(Encoding.ASCII.GetBytes(name), Encoding.ASCII.GetBytes(value), staticName: step % 61);
                if (Size(name, value) > maxSize)
                {
                    model.Clear();
                }
                else
                {
                    model.Insert(0, (name, value));
                    Evict(model, maxSize);
                }
            }

            Assert.That(table.Count, Is.EqualTo(model.Count), $"step {step}");
            Assert.That(table.Size, Is.EqualTo(model.Sum(e => Size(e.Name, e.Value))), $"step {step}");
            for (var i = 0; i < model.Count; i++)
            {
                table.Get(i + 1, out var name, out var value, out _);
                Assert.That((Encoding.ASCII.GetString(name), Encoding.ASCII.GetString(value)), Is.EqualTo(model[i]), $"step {step}, index {i + 1}");
            }
        }
    }

    private static int Size(string name, string value) => name.Length + value.Length + HpackDynamicTable.EntryOverhead;

    private static void Evict(List<(string Name, string Value)> model, int maxSize)
    {
        while (model.Count > 0 && model.Sum(e => Size(e.Name, e.Value)) > maxSize)
        {
            model.RemoveAt(model.Count - 1);
        }
    }
}
