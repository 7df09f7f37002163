//! The page, embedded in the binary (`include_str!`): plain HTML, CSS and JavaScript,
//! no framework, no build step, nothing fetched from elsewhere at run time.

/// The page (served at `/` once authorised).
pub const INDEX: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");

/// An asset by name: its Content-Type and bytes.
pub fn get(name: &str) -> Option<(&'static str, &'static str)> {
    match name {
        "app.js" => Some(("text/javascript; charset=utf-8", APP_JS)),
        "app.css" => Some(("text/css; charset=utf-8", APP_CSS)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_page_has_no_inline_code_and_no_remote_source() {
        let index = super::INDEX;
        assert!(
            !index.contains("<script>") && !index.contains("onclick=") && !index.contains("style=")
        );
        for a in [index, super::APP_JS, super::APP_CSS] {
            assert!(
                !a.contains("http://") && !a.contains("https://"),
                "no remote source"
            );
        }
        assert!(
            !super::APP_JS.contains("innerHTML"),
            "bodies are never inserted as HTML"
        );
    }
}
