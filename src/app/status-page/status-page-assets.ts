/**
 * The status page's own CSS and script, inlined into the page (no framework,
 * no second request). The script applies the deltas of `/status/events`: rows
 * arrive rendered and escaped by the server, so it only puts them in place,
 * keeps ages counting, and announces state changes in the `role="status"`
 * region at most every 2 s. Without JavaScript the page is complete as served.
 */
const css = `
:root{color-scheme:light;font-family:system-ui,sans-serif;color:#1a1a1a;background:#fff}
body{margin:1rem 2rem;line-height:1.4}
h1{font-size:1.5rem;margin:.5rem 0}h2{font-size:1.15rem;margin:1.5rem 0 .5rem}
table{border-collapse:collapse;width:100%;font-size:.9rem}
caption{text-align:left;font-weight:600;padding:.25rem 0}
th,td{border-bottom:1px solid #c8c8c8;padding:.35rem .5rem;text-align:left;vertical-align:top}
thead th{background:#f0f0f0}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.title,.note{display:block;color:#4a4a4a;font-size:.8rem;font-weight:400}
.state{font-weight:600;white-space:nowrap}
.state-running,.state-claimed{color:#0b5394}.state-done{color:#1d6b2f}
.state-failed{color:#a3161d}.state-interrupted,.state-needs-review{color:#7a4b00}.state-queued{color:#3d3d3d}
a{color:#0b4f8a}
.figures{display:flex;flex-wrap:wrap;gap:1.5rem;margin:0}.figures div{min-width:6rem}
dt{font-size:.8rem;color:#4a4a4a}dd{margin:0;font-size:1.3rem;font-weight:600}
#errors:not(:empty){border:2px solid #a3161d;padding:.5rem 1rem;margin:1rem 0}
#events{font-size:.85rem;padding-left:1.2rem;max-height:24rem;overflow:auto}
.sr-only{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
`;

const js = `(()=>{
const $=(i)=>document.getElementById(i);
const body=$("rows"),conn=$("conn"),live=$("announce"),list=$("events");
const skew=Date.now()-Date.parse(document.body.dataset.at||"");
let pending=[],timer=null,last=null,es=null;
const say=(t)=>{if(!t)return;pending.push(t);if(timer)return;timer=setTimeout(()=>{live.textContent=pending.slice(-5).join("; ");pending=[];timer=null},2000)};
const frag=(h)=>{const t=document.createElement("template");t.innerHTML=h;return t.content};
const byKey=()=>new Map([...body.rows].map((r)=>[r.dataset.key,r]));
const dur=(ms)=>{const s=Math.max(0,Math.floor(ms/1000));if(s<60)return s+"s";const m=Math.floor(s/60);if(m<60)return m+"m "+String(s%60).padStart(2,"0")+"s";return Math.floor(m/60)+"h "+String(m%60).padStart(2,"0")+"m"};
const tick=()=>{const now=Date.now()-skew;for(const e of document.querySelectorAll("[data-since]"))e.textContent=dur(now-Date.parse(e.dataset.since))};
const apply=(d,full)=>{
if(full){body.replaceChildren();list.replaceChildren()}
const rows=byKey();
for(const r of d.rows){const n=frag(r.html).firstElementChild;const o=rows.get(r.key);if(o)o.replaceWith(n);else body.append(n)}
for(const k of d.removed){const o=rows.get(k);if(o)o.remove()}
const keep=new Set(d.order),now=byKey();for(const [k,r] of now)if(!keep.has(k))r.remove();for(const k of d.order){const r=now.get(k);if(r)body.append(r)}
$("empty").hidden=d.order.length>0;
$("pool").innerHTML=d.pool;$("counters").innerHTML=d.counters;$("errors").innerHTML=d.errors;
for(const e of d.events.slice().reverse())list.prepend(frag(e));
while(list.children.length>50)list.lastElementChild.remove();
document.body.dataset.at=d.at;say(d.announce)};
const on=(e,full)=>{const b=document.body.dataset;last=e.lastEventId||last;apply(JSON.parse(e.data),full);b.eventId=last||"";if(full)b.snapshots=String(Number(b.snapshots||0)+1)};
const connect=()=>{
es=new EventSource("status/events"+(last?"?since="+encodeURIComponent(last):""));
es.addEventListener("open",()=>{conn.textContent="Live updates: connected."});
es.addEventListener("snapshot",(e)=>on(e,true));
es.addEventListener("delta",(e)=>on(e,false));
es.addEventListener("error",()=>{conn.textContent="Live updates: connection lost, reconnecting…";if(es.readyState===2){es.close();setTimeout(connect,2000)}})};
connect();setInterval(tick,1000)})();`;

export const statusPageAssets = { css, js };
