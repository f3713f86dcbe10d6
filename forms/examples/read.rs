fn main() {
    for path in std::env::args().skip(1) {
        let bytes = std::fs::read(&path).unwrap();
        if std::env::var("TEXT").is_ok() {
            println!("{}", bareme_forms::debug_page_text(&bytes));
        }
        println!("{path}: {:#?}", bareme_forms::read_pdf(&bytes));
    }
}
