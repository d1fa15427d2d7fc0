/// The night report's HTML, as Mustache templates (swift-mustache): markup
/// here, values from `NightReportHTML`. `{{x}}` is HTML-escaped; `{{{x}}}`
/// (raw) is used only for the style sheet, which is a constant.
enum ReportTemplates {
    static let style = """
        body { font-family: sans-serif; margin: 1.5em 2em; color: #222; max-width: 1200px; }
        h1 { font-size: 1.5em; margin: .3em 0; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; margin-top: 1.6em; }
        h3 { margin: .2em 0 .4em; font-size: 1.1em; }
        nav.nights { font-size: .95em; } nav.nights a { margin-right: 1em; }
        .verdict { font-size: 1.15em; font-weight: bold; padding: .6em .9em; border-radius: 6px; }
        .verdict.complete { background: #e6f4ea; color: #1a5e2a; border: 1px solid #7cb987; }
        .verdict.incomplete { background: #fdecea; color: #8a1c1c; border: 1px solid #e0a09a; }
        .verdict.unfinished { background: #fff8e1; color: #6b5300; border: 1px solid #e0c36a; }
        #toc ol { columns: 2; font-size: .95em; }
        table { border-collapse: collapse; margin: .4em 0 .8em; font-size: .9em; }
        th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; }
        th { background: #f3f3f3; }
        .pass { color: #1a7f37; font-weight: bold; } .fail { color: #c62828; font-weight: bold; } .wait { color: #8a6d00; font-weight: bold; }
        tr.out-of-range td { background: #fdecea; }
        .product { border: 1px solid #ddd; border-radius: 6px; padding: .6em 1em; margin: 1em 0; }
        .product-body { display: flex; gap: 1.2em; align-items: flex-start; flex-wrap: wrap; }
        img.thumbnail { width: 240px; image-rendering: pixelated; border: 1px solid #999; }
        .plots { display: flex; flex-wrap: wrap; gap: .8em; }
        figure { margin: 0; } figcaption { font-size: .85em; color: #444; }
        img.plot, img.trend { max-width: 100%; border: 1px solid #eee; }
        details { margin: .3em 0; } summary { cursor: pointer; color: #245; }
        code { font-size: .85em; }
        td.complete { color: #1a5e2a; } td.incomplete { color: #8a1c1c; } td.unfinished { color: #6b5300; }
        """

    static let nightPage = """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>calibd night {{night}}</title>
        <style>{{{style}}}</style></head><body>
        <nav class="nights">{{#previous}}<a href="../{{.}}/index.html" rel="prev">← {{.}}</a>{{/previous}}<a href="../index.html">all nights</a>{{#next}}<a href="../{{.}}/index.html" rel="next">{{.}} →</a>{{/next}}</nav>
        <h1>calibd night {{night}}</h1>
        <p id="verdict" class="verdict {{verdictClass}}">{{summary}}</p>
        <p>{{frameCount}} usable frames, {{unusableCount}} unusable files, {{jobCount}} jobs, {{productCount}} current products. Generated {{generated}} from <code>{{database}}</code>.</p>
        <nav id="toc"><h2>Contents</h2><ol>
        <li><a href="#not-passing">Not made or not passed ({{notPassingCount}})</a></li>
        <li><a href="#products">Products ({{productCount}})</a><ol>{{#products}}<li><a href="#{{anchor}}">{{type}} {{shortSetup}}</a> <span class="{{qcClass}}">{{qcWord}}</span></li>{{/products}}</ol></li>
        <li><a href="#unusable">Unusable files ({{unusableCount}})</a></li>
        <li><a href="#frames">Frames received</a></li>
        <li><a href="#jobs">Jobs ({{jobCount}})</a></li>
        <li><a href="#trends">QC trends</a></li>
        </ol></nav>

        <section id="not-passing"><h2>Not made or not passed</h2>
        {{#hasNotPassing}}<table><tr><th>outcome</th><th>recipe</th><th>setup</th><th>why</th></tr>
        {{#notPassing}}<tr><td class="{{outcomeClass}}">{{outcome}}</td><td>{{recipe}}</td><td>{{setup}}</td><td>{{reason}}</td></tr>
        {{/notPassing}}</table>{{/hasNotPassing}}
        {{^hasNotPassing}}<p>Everything the profile expects for this night's setups was made and passed QC.</p>{{/hasNotPassing}}
        </section>

        <section id="products"><h2>Products</h2>
        {{#products}}<article class="product" id="{{anchor}}">
        <h3>{{type}} — {{setup}} <span class="{{qcClass}}">QC {{qcWord}}</span></h3>
        <p class="links"><a class="fits" href="{{fitsHref}}">FITS file</a> (product {{id}}){{#logHref}} · <a class="log" href="{{logHref}}">job {{jobId}} log</a>{{/logHref}}{{#madeWith}} · made with {{madeWith}}{{/madeWith}}</p>
        <div class="product-body">
        {{#thumbnail}}<figure><a href="{{fitsHref}}"><img class="thumbnail" src="{{thumbnail}}" alt="{{type}} {{setup}} image"></a><figcaption>{{thumbnailCaption}}</figcaption></figure>{{/thumbnail}}
        <div><table class="qc"><tr><th>metric</th><th>value</th><th>unit</th><th>QC range</th><th></th></tr>
        {{#shownMetrics}}<tr class="{{rowClass}}"><td>{{name}}</td><td>{{value}}</td><td>{{unit}}</td><td>{{range}}</td><td class="{{verdictClass}}">{{verdict}}</td></tr>
        {{/shownMetrics}}</table>
        {{#hasFolded}}<details><summary>{{foldedCount}} more metrics, without a QC range</summary><table class="qc-folded"><tr><th>metric</th><th>value</th><th>unit</th></tr>
        {{#foldedMetrics}}<tr><td>{{name}}</td><td>{{value}}</td><td>{{unit}}</td></tr>
        {{/foldedMetrics}}</table></details>{{/hasFolded}}</div>
        </div>
        {{#hasPlots}}<div class="plots">{{#plots}}<figure><a href="{{src}}"><img class="plot" src="{{src}}" alt="{{caption}}"></a><figcaption>{{caption}}</figcaption></figure>{{/plots}}</div>{{/hasPlots}}
        {{#hasMorePlots}}<details{{#qcFailed}} open{{/qcFailed}}><summary>{{morePlotCount}} more QC plots</summary><div class="plots">{{#morePlots}}<figure><a href="{{src}}"><img class="plot" src="{{src}}" alt="{{caption}}" loading="lazy"></a><figcaption>{{caption}}</figcaption></figure>{{/morePlots}}</div></details>{{/hasMorePlots}}
        </article>
        {{/products}}
        </section>

        <section id="unusable"><h2>Unusable files</h2>
        {{#hasUnusable}}<table><tr><th>file</th><th>reason</th></tr>
        {{#unusable}}<tr><td><code>{{path}}</code></td><td>{{reason}}</td></tr>
        {{/unusable}}</table>{{/hasUnusable}}{{^hasUnusable}}<p>None.</p>{{/hasUnusable}}
        </section>

        <section id="frames"><h2>Frames received</h2>
        <table><tr><th>type</th><th>lamp</th><th>setup</th><th>frames</th></tr>
        {{#frameGroups}}<tr><td>{{type}}</td><td>{{lamp}}</td><td>{{setup}}</td><td>{{count}}</td></tr>
        {{/frameGroups}}</table>
        </section>

        <section id="jobs"><h2>Jobs</h2>
        <details><summary>{{jobCount}} jobs with states, attempts and run times</summary>
        <table><tr><th>id</th><th>recipe</th><th>setup</th><th>state</th><th>attempts</th><th>run time</th><th>reason</th></tr>
        {{#jobs}}<tr><td>{{id}}</td><td>{{recipe}}</td><td>{{setup}}</td><td class="{{stateClass}}">{{state}}</td><td>{{attempts}}</td><td>{{seconds}}</td><td>{{reason}}</td></tr>
        {{/jobs}}</table></details>
        </section>

        <section id="trends"><h2>QC trends (last {{trendNights}} nights)</h2>
        <p>Each point is a night's product; the green band is the configured QC range, red points failed QC.
        Metrics out of range tonight are shown; the rest are folded by product type.</p>
        <div class="plots">{{#failingTrends}}<figure><img class="trend" src="{{src}}" alt="{{caption}}"><figcaption>{{caption}}</figcaption></figure>{{/failingTrends}}</div>
        {{#trendGroups}}<details><summary>{{type}}: {{count}} trends</summary><div class="plots">{{#trends}}<figure><img class="trend" src="{{src}}" alt="{{caption}}" loading="lazy"><figcaption>{{caption}}</figcaption></figure>{{/trends}}</div></details>
        {{/trendGroups}}
        </section>
        </body></html>

        """

    static let indexPage = """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>calibd nights</title>
        <style>{{{style}}}</style></head><body>
        <h1>calibd nights</h1>
        <p>Every night recorded in <code>{{database}}</code>, newest first. Generated {{generated}}.</p>
        <table id="nights"><tr><th>night</th><th>verdict</th></tr>
        {{#nights}}<tr><td>{{#href}}<a href="{{href}}">{{night}}</a>{{/href}}{{^href}}{{night}}{{/href}}</td><td class="{{verdictClass}}">{{summary}}</td></tr>
        {{/nights}}</table>
        <p>A night without a link has no page here yet: <code>calibctl report --night NIGHT --out {{root}}</code>.</p>
        </body></html>

        """
}
