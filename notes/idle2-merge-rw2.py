# Resolves RewritingPipeReader.cs conflicts between idle2 and rw2: rw2's side of each conflicted hunk, then idle2's
# mechanical renames (per-request fields -> the pooled request state) over the whole file.
import re, sys
p = sys.argv[1]
s = open(p).read()
s = re.sub(r'<<<<<<< [^\n]*\n.*?\n=======\n(.*?)>>>>>>> [^\n]*\n', lambda m: m.group(1), s, flags=re.S)
renames = [('_headOutLength', 'Request.HeadOutLength'), ('_headOutConsumed', 'Request.HeadOutConsumed'), ('_headOut', 'Request.HeadOut'),
           ('_headTimeout', 'Request.HeadTimeout'), ('_head', 'Request.Head'), ('_buffer', 'Request.Buffer'), ('_scanned', 'Request.Scanned'),
           ('_requestLineEnd', 'Request.RequestLineEnd'), ('_scratch', 'Request.Scratch'), ('_sourceHeadLength', 'Request.SourceHeadLength'),
           ('_afterHead', 'Request.AfterHead'), ('_holdResponse', 'Request.HoldResponse'), ('_bodyRemaining', 'Request.BodyRemaining'),
           ('_chunkedBody', 'Request.ChunkedBody'), ('_bodyError', 'Request.BodyError'), ('_bodyStalled', 'Request.BodyStalled'),
           ('_handed', 'Request.Handed'), ('_responses', 'Responses')]
for a, b in renames:
    s = re.sub(r'\b' + re.escape(a) + r'\b', b, s)
open(p, 'w').write(s)
