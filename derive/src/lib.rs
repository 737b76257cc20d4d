//! `#[derive(Trace)]` for [`cyclegc`](https://docs.rs/cyclegc).
//!
//! This crate is an implementation detail of `cyclegc`: depend on `cyclegc` (its `derive`
//! feature is on by default) and write `use cyclegc::Trace;` followed by `#[derive(Trace)]`.
//! The generated code names everything by absolute path (`::cyclegc::Trace`,
//! `::cyclegc::Tracer`, `::core::...`), so the deriving crate must depend on `cyclegc` under
//! that name. Runnable examples live in the documentation of `cyclegc::Trace`; the examples
//! here are plain text because a proc-macro crate cannot run doctests against its parent.
//!
//! See [`derive@Trace`] for what is generated.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::collections::HashSet;

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::visit_mut::{self, VisitMut};
use syn::{
    parse_macro_input, parse_quote, Attribute, Data, DeriveInput, Expr, ExprPath, Fields,
    GenericArgument, GenericParam, Generics, Ident, Path, PathArguments, QSelf, Stmt, Type,
    TypePath, WherePredicate,
};

/// Derives `cyclegc::Trace`, which reports the `Gc` pointers a value owns to the cycle
/// collector.
///
/// Works on structs (named, tuple and unit) and enums (every kind of variant, and empty
/// enums). Unions are rejected: the derive cannot know which field is active.
///
/// ```text
/// use std::cell::RefCell;
/// use cyclegc::{Gc, Trace};
///
/// #[derive(Trace)]
/// struct Node {
///     name: String,
///     next: RefCell<Option<Gc<Node>>>,
///     #[trace(skip)] // an `Rc` is not `Trace`; whatever it holds simply stays alive
///     config: std::rc::Rc<Config>,
/// }
///
/// #[derive(Trace)]
/// enum Json {
///     Null,
///     Str(String),
///     Arr(Vec<Json>),
///     Obj { fields: Vec<(String, Json)> },
/// }
/// ```
///
/// # What is generated
///
/// One `unsafe impl ::cyclegc::Trace for Name<..>`, inside a `const _: () = { .. };` block.
/// No `Drop` impl is generated, so the type may implement `Drop` itself.
///
/// * `trace` matches on `self`, binding every field of every variant, and calls
///   `<FieldType as ::cyclegc::Trace>::trace` on each field that is not `#[trace(skip)]`
///   (so a field type that is not `Trace` is reported at the field). It reports exactly
///   the `Gc`s the fields report, which is what the trait's safety contract asks for.
/// * `may_contain_gc` is `<F1 as Trace>::may_contain_gc() || <F2 as Trace>::may_contain_gc()
///   || ..` over the distinct traced field types of all variants, computed through the
///   hidden `__may_contain_gc_at(depth)`, which counts how deep it is. A type with no field
///   answers `false`, and a type with a `#[trace(skip)]` field answers `true` (see
///   [Attributes](#attributes)). Occurrences of the type being derived inside a field type are
///   replaced by a type that owns nothing: "a `Json` may own a `Gc` if a `Vec<Json>` may" has
///   the least solution "if one of the other fields may", so the recursive `Json` above
///   answers `false` while `RefCell<Option<Gc<Node>>>` answers `true` (a `Gc<T>` answers
///   `true` without looking at `T`). Mutually recursive types that do not go through a `Gc`
///   (`A` holds a `Box<B>`, `B` holds a `Box<A>`) stop after a fixed depth and answer `true`,
///   which is always allowed.
///
/// Only what is certainly the type itself is replaced: `Self`, and the type's bare name
/// followed by exactly its own generic parameters in declaration order, lifetimes and consts
/// included (`Tree<T>` in `struct Tree<T>`, `Arr<'a, T, N>` or `Arr<'a, T, { N }>` in
/// `struct Arr<'a, T, const N: usize>`, and `Json` alone only for a type without generic
/// parameters), and not inside a projection (`<Json as Tr>::Out`) or a constant (an array
/// length), where replacing it would change what is meant. Any other spelling is asked like
/// an unrelated type, because it may be one:
///
/// * a path with a leading `::` or more than one segment (`other::Node`, `crate::a::Node`,
///   `super::Node`, even `self::Node`, which inside a function body names the module's
///   `Node`, not the body's);
/// * the same name with other arguments (`Tree<u8>` or `Tree<Gc<X>>` inside `Tree<T>`), or
///   with fewer (`W` in `struct W<T = u8>` means `W<u8>`, not `W<T>`).
///
/// A wrong guess there can only be conservative: if such a path does name the type itself,
/// asking it recurses until the depth limit and answers `true`. So write the recursive
/// occurrences of a type as `Self` or as its bare name with its own parameters to get the
/// exact answer.
///
/// # Bounds
///
/// No bound is put on the generic parameters themselves: `struct Wrapper<T>` gets
/// `where T: Trace` only because it has a field of type `T`, and
/// `struct Tagged<T> { tag: PhantomData<T> }` gets `where PhantomData<T>: Trace`, which holds
/// for every `T`. For each traced field whose type mentions a generic type parameter the
/// derive adds `FieldType: ::cyclegc::Trace` to the impl's `where` clause, or joins it to
/// the bounds the type already has (`T: Clone + ::cyclegc::Trace`); bounds are deduplicated.
/// The type's own bounds and `where` clause are kept. Lifetimes and const generics pass
/// through unchanged.
///
/// A field whose type mentions the type being derived (`kids: Vec<Tree<T>>`) gets no such
/// bound, since `Vec<Tree<T>>: Trace` would need `Tree<T>: Trace`, the very impl being
/// written, and the trait solver would go round in circles. Instead it gets bounds on the
/// parts of its type around the recursive occurrences (`T: Trace` for
/// `Vec<(T, Tree<T>)>`, nothing for `Vec<Tree<T>>`), and a bound on the substituted type
/// that `may_contain_gc` asks about (`Vec<(T, Acyclic)>`) when that still mentions a type
/// parameter. Here "mentions the type" is read broadly, unlike above: `Self` or any path
/// ending in the type's name, since a bound too many could make the impl impossible to
/// prove while a bound too few is reported at the field. A field of another generic type with
/// the same name (`next: other::Node<T>`) therefore gets no bound; if it needs one, write it
/// in the type's own `where` clause (`where T: Trace`), which the derive keeps.
///
/// # Attributes
///
/// `#[trace(skip)]` on a field leaves it out: it is not traced and gets no bound, so its type
/// need not implement `Trace`. A `Gc` reachable only through a skipped field is treated as
/// referenced from outside, so a cycle through it is never collected (a leak, never
/// unsoundness).
///
/// A skipped field makes `may_contain_gc` answer `true`. The derive cannot look inside it (its
/// type need not implement `Trace`), and a skipped field may well own a `Gc`: an edge left out
/// on purpose, or an `Rc` to something that holds one. Answering `false` for such a type
/// would make it untracked, and untracked values are dropped in place rather than through the
/// bounded release loop, so a long chain linked through skipped `Gc`s would drop recursively
/// and overflow the stack. The cost is that a type with a skipped field that owns no `Gc` is
/// tracked needlessly. There is no reason to skip a field whose type implements `Trace` and
/// owns no `Gc`, since traced it counts as `false`. For a field whose type does not implement
/// `Trace` in a type that must stay untracked, implement `Trace` by hand (for the field's
/// type or for the whole type): an `unsafe impl` is the place to promise that nothing in it
/// owns a `Gc`.
///
/// Anything else is an error: `#[trace]` without arguments, unknown arguments such as
/// `#[trace(foo)]`, `skip` given twice, and `#[trace(..)]` on the type or on a variant.
///
/// # Limits
///
/// `#[repr(packed)]` types are not supported (their fields cannot be borrowed), nor are
/// unsized types (`struct S { data: [u8] }`).
#[proc_macro_derive(Trace, attributes(trace))]
pub fn derive_trace(input: proc_macro::TokenStream) -> proc_macro::TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// One field of a struct or variant, as the generated code sees it.
struct FieldInfo {
    /// How the field is named in a braced pattern: `name` or the tuple index `0`.
    member: syn::Member,
    ty: Type,
    skip: bool,
}

/// One arm of the generated `match`: the path to match (`Self` or `Self::Variant`) and its
/// fields.
struct Arm {
    path: TokenStream,
    fields: Vec<FieldInfo>,
}

fn expand(input: &DeriveInput) -> syn::Result<TokenStream> {
    let arms = parse_arms(input)?;
    let name = &input.ident;

    let traced: Vec<&FieldInfo> = arms
        .iter()
        .flat_map(|arm| arm.fields.iter())
        .filter(|field| !field.skip)
        .collect();

    // The field types as `may_contain_gc` asks about them: with the type being derived
    // replaced by `Acyclic`.
    let substituted: Vec<Type> = traced
        .iter()
        .map(|field| {
            let mut ty = field.ty.clone();
            SubstituteSelf {
                name,
                generics: &input.generics,
            }
            .visit_type_mut(&mut ty);
            ty
        })
        .collect();

    let mut generics = input.generics.clone();
    let predicates = where_predicates(&input.generics, name, &traced, &substituted);
    add_predicates(&mut generics, predicates);
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();

    let trace_body = trace_body(&arms);
    let tracer_param = if traced.is_empty() {
        quote!(_)
    } else {
        tracer_ident().into_token_stream()
    };
    let depth = depth_ident();
    let any_skipped = arms
        .iter()
        .flat_map(|arm| arm.fields.iter())
        .any(|field| field.skip);
    let may_contain_body = may_contain_body(&traced, &substituted, any_skipped);

    Ok(quote! {
        const _: () = {
            #[automatically_derived]
            unsafe impl #impl_generics ::cyclegc::Trace for #name #ty_generics #where_clause {
                #[inline]
                fn trace(&self, #tracer_param: &mut ::cyclegc::Tracer) {
                    #trace_body
                }

                #[inline]
                fn may_contain_gc() -> ::core::primitive::bool {
                    <Self as ::cyclegc::Trace>::__may_contain_gc_at(0)
                }

                #[inline]
                fn __may_contain_gc_at(
                    #depth: ::core::primitive::usize,
                ) -> ::core::primitive::bool {
                    #may_contain_body
                }
            }
        };
    })
}

/// The arms of the generated `match`, after checking every `trace` attribute.
fn parse_arms(input: &DeriveInput) -> syn::Result<Vec<Arm>> {
    let mut errors = Errors::default();

    for attr in trace_attrs(&input.attrs) {
        errors.push(misplaced_attr(attr, "a type"));
    }

    let arms = match &input.data {
        Data::Struct(data) => vec![Arm {
            path: quote!(Self),
            fields: collect_fields(&data.fields, &mut errors),
        }],
        Data::Enum(data) => data
            .variants
            .iter()
            .map(|variant| {
                for attr in trace_attrs(&variant.attrs) {
                    errors.push(misplaced_attr(attr, "an enum variant"));
                }
                let ident = &variant.ident;
                Arm {
                    path: quote!(Self::#ident),
                    fields: collect_fields(&variant.fields, &mut errors),
                }
            })
            .collect(),
        Data::Union(data) => {
            errors.push(syn::Error::new(
                data.union_token.span,
                "`#[derive(Trace)]` does not support unions: the derive cannot know which \
                 field is active; implement `cyclegc::Trace` by hand",
            ));
            Vec::new()
        }
    };
    errors.finish()?;
    Ok(arms)
}

/// The bounds added to the impl: `FieldType: Trace` for each traced field whose type mentions
/// a generic type parameter, handled specially for recursive fields (see the derive's docs).
fn where_predicates(
    generics: &syn::Generics,
    name: &Ident,
    traced: &[&FieldInfo],
    substituted: &[Type],
) -> Vec<WherePredicate> {
    let type_params: HashSet<Ident> = generics
        .type_params()
        .map(|param| param.ident.clone())
        .collect();

    let mut bounds = Bounds::default();
    for (field, subst) in traced.iter().zip(substituted) {
        if !mentions_param(&field.ty, &type_params) {
            continue;
        }
        if !might_mention_self(&field.ty, name) {
            bounds.add(&field.ty);
            continue;
        }
        // A recursive field: bound what surrounds the recursive occurrences, not the field.
        let mut parts = Vec::new();
        non_recursive_parts(&field.ty, name, &type_params, &mut parts);
        for part in parts {
            bounds.add(part);
        }
        if mentions_param(subst, &type_params) && !might_mention_self(subst, name) {
            bounds.add(subst);
        }
    }
    bounds.predicates
}

/// Adds `Type: Trace` predicates to the impl's generics. A bound on a type that already has
/// bounds (`T: Clone` in the type's own `where` clause or parameter list) joins them instead
/// of repeating the type, so that lints such as `clippy::type_repetition_in_bounds` stay
/// quiet in the user's crate.
fn add_predicates(generics: &mut syn::Generics, predicates: Vec<WherePredicate>) {
    for predicate in predicates {
        let WherePredicate::Type(mut predicate) = predicate else {
            unreachable!("`Bounds` only builds type predicates")
        };
        let key = merge_key(&predicate.bounded_ty);
        if let Some(existing) = key.and_then(|key| {
            generics
                .where_clause
                .as_mut()?
                .predicates
                .iter_mut()
                .find_map(|existing| match existing {
                    WherePredicate::Type(existing)
                        if existing.bounded_ty.to_token_stream().to_string() == key =>
                    {
                        Some(existing)
                    }
                    _ => None,
                })
        }) {
            existing.bounds.extend(predicate.bounds);
            continue;
        }
        if let Type::Path(TypePath { qself: None, path }) = &predicate.bounded_ty {
            if let Some(param) = path.get_ident().and_then(|ident| {
                generics
                    .type_params_mut()
                    .find(|param| param.ident == *ident && !param.bounds.is_empty())
            }) {
                param.bounds.extend(std::mem::take(&mut predicate.bounds));
                continue;
            }
        }
        generics
            .make_where_clause()
            .predicates
            .push(WherePredicate::Type(predicate));
    }
}

/// The body of `__may_contain_gc_at`.
fn may_contain_body(traced: &[&FieldInfo], substituted: &[Type], any_skipped: bool) -> TokenStream {
    let depth = depth_ident();
    if any_skipped || substituted.is_empty() {
        // A skipped field cannot be asked (its type need not be `Trace`) and may own a `Gc`,
        // so it counts as "may contain": see the derive's docs.
        let answer = any_skipped;
        return quote! {
            let _ = #depth;
            #answer
        };
    }
    // One term per distinct type: `left: Expr, right: Expr` asks once. Besides being
    // shorter, this keeps the work for types that reach the depth limit (mutual recursion
    // not through a `Gc`) from growing exponentially with repeated fields.
    let mut seen = HashSet::new();
    let terms = traced
        .iter()
        .zip(substituted)
        .filter(|(_, subst)| merge_key(subst).is_none_or(|key| seen.insert(key)))
        .map(|(field, subst)| {
            quote_spanned! {field.ty.span()=>
                <#subst as ::cyclegc::Trace>::__may_contain_gc_at(#depth + 1)
            }
        });
    quote! {
        if #depth >= ::cyclegc::__private::MAY_CONTAIN_GC_DEPTH_LIMIT {
            return true;
        }
        #(#terms)||*
    }
}

fn depth_ident() -> Ident {
    Ident::new("__cyclegc_depth", Span::call_site())
}

fn tracer_ident() -> Ident {
    Ident::new("__cyclegc_tracer", Span::call_site())
}

/// `match self { Self::A { x: __cyclegc_f0, y: _ } => { trace(__cyclegc_f0) } .. }`.
///
/// Every field is named in the pattern (skipped ones bound to `_`), so the match is
/// exhaustive over variants and fields without a `..` that could hide one.
fn trace_body(arms: &[Arm]) -> TokenStream {
    if arms.is_empty() {
        // An empty enum: `*self` is uninhabited.
        return quote!(match *self {});
    }
    let tracer = tracer_ident();
    let mut index = 0usize;
    let arms = arms.iter().map(|arm| {
        let mut patterns = Vec::new();
        let mut calls = Vec::new();
        for field in &arm.fields {
            let member = &field.member;
            if field.skip {
                patterns.push(quote!(#member: _));
            } else {
                let binding = format_ident!("__cyclegc_f{}", index);
                index += 1;
                patterns.push(quote!(#member: #binding));
                // Naming the field type makes a missing `Trace` impl point at it.
                let ty = &field.ty;
                calls.push(quote_spanned! {ty.span()=>
                    <#ty as ::cyclegc::Trace>::trace(#binding, #tracer);
                });
            }
        }
        let path = &arm.path;
        quote! {
            #path { #(#patterns),* } => {
                #(#calls)*
            }
        }
    });
    quote! {
        match self {
            #(#arms)*
        }
    }
}

fn collect_fields(fields: &Fields, errors: &mut Errors) -> Vec<FieldInfo> {
    fields
        .iter()
        .enumerate()
        .map(|(index, field)| {
            let member = match &field.ident {
                Some(ident) => syn::Member::Named(ident.clone()),
                None => syn::Member::Unnamed(syn::Index {
                    span: field.ty.span(),
                    ..syn::Index::from(index)
                }),
            };
            let skip = parse_field_attrs(&field.attrs, errors);
            FieldInfo {
                member,
                ty: field.ty.clone(),
                skip,
            }
        })
        .collect()
}

fn trace_attrs(attrs: &[Attribute]) -> impl Iterator<Item = &Attribute> {
    attrs.iter().filter(|attr| attr.path().is_ident("trace"))
}

fn misplaced_attr(attr: &Attribute, place: &str) -> syn::Error {
    syn::Error::new_spanned(
        attr,
        format!(
            "`#[trace(..)]` is not allowed on {place}: `#[trace(skip)]` goes on individual \
             fields"
        ),
    )
}

/// Whether the field is `#[trace(skip)]`; reports malformed `trace` attributes.
fn parse_field_attrs(attrs: &[Attribute], errors: &mut Errors) -> bool {
    let mut skip: Option<Span> = None;
    for attr in trace_attrs(attrs) {
        if let syn::Meta::Path(_) | syn::Meta::NameValue(_) = &attr.meta {
            errors.push(syn::Error::new_spanned(
                attr,
                "expected `#[trace(skip)]`: `trace` needs an argument",
            ));
            continue;
        }
        let result = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("skip") {
                if !meta.input.is_empty() && !meta.input.peek(syn::Token![,]) {
                    return Err(meta.error("`skip` takes no value: write `#[trace(skip)]`"));
                }
                if skip.is_some() {
                    return Err(meta.error("duplicate `skip` in `#[trace(..)]`"));
                }
                skip = Some(meta.path.span());
                Ok(())
            } else {
                let name = meta.path.to_token_stream().to_string().replace(' ', "");
                Err(meta.error(format!(
                    "unknown `trace` argument `{name}`: the only one is `skip`, as in \
                     `#[trace(skip)]`"
                )))
            }
        });
        match result {
            Ok(()) if skip.is_none() => errors.push(syn::Error::new_spanned(
                attr,
                "expected `#[trace(skip)]`: `trace` needs an argument",
            )),
            Ok(()) => {}
            Err(error) => errors.push(error),
        }
    }
    skip.is_some()
}

/// Collects errors so that every malformed attribute is reported at once.
#[derive(Default)]
struct Errors(Option<syn::Error>);

impl Errors {
    fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }

    fn finish(self) -> syn::Result<()> {
        match self.0 {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
}

/// `Type: ::cyclegc::Trace` predicates, deduplicated by their tokens.
#[derive(Default)]
struct Bounds {
    seen: HashSet<String>,
    predicates: Vec<WherePredicate>,
}

impl Bounds {
    fn add(&mut self, ty: &Type) {
        if merge_key(ty).is_none_or(|key| self.seen.insert(key)) {
            self.predicates.push(parse_quote_spanned_bound(ty));
        }
    }
}

/// The key under which types are merged (one `may_contain_gc` term, one bound, one `where`
/// predicate per type): their tokens, which name one type wherever they appear in one item.
///
/// `None`, never merged, for a type that mentions `$crate`: that prints the same whichever
/// crate's macro wrote it, so `$crate::H` from one crate's macro and `$crate::H` passed in
/// by another crate's macro are different types with the same tokens. Merged, only one of
/// them would be asked, and `may_contain_gc` could answer `false` from the one that owns no
/// `Gc`.
fn merge_key(ty: &Type) -> Option<String> {
    let tokens = ty.to_token_stream();
    let mut streams = vec![tokens.clone()];
    while let Some(stream) = streams.pop() {
        for tree in stream {
            match tree {
                TokenTree::Ident(ident) if ident == "$crate" => return None,
                TokenTree::Group(group) => streams.push(group.stream()),
                _ => {}
            }
        }
    }
    Some(tokens.to_string())
}

fn parse_quote_spanned_bound(ty: &Type) -> WherePredicate {
    // Spanned at the field type, so an unsatisfied bound points there.
    let tokens = quote_spanned! {ty.span()=> #ty: ::cyclegc::Trace };
    syn::parse2(tokens).expect("a type followed by a trait bound is a where-predicate")
}

/// Whether `path` (not under a `qself`) might name the type being derived: `Self`, or any
/// path whose last segment is the type's name, whatever comes before it and whatever its
/// generic arguments. Only the bounds use this over-approximation, where a false "yes" merely
/// leaves out a bound (and a false "no" would add one the trait solver cannot finish
/// proving); `may_contain_gc` needs the exact [`is_exactly_self_type`].
fn might_be_self_path(path: &Path, name: &Ident) -> bool {
    match path.segments.last() {
        Some(last) if last.ident == *name => true,
        _ => path.leading_colon.is_none() && path.segments.len() == 1 && path.is_ident("Self"),
    }
}

fn might_be_self_type(ty: &Type, name: &Ident) -> bool {
    match ty {
        Type::Path(TypePath { qself: None, path }) => might_be_self_path(path, name),
        Type::Group(group) => might_be_self_type(&group.elem, name),
        Type::Paren(paren) => might_be_self_type(&paren.elem, name),
        _ => false,
    }
}

/// Whether `ty` is certainly the type being derived, with its own generic arguments: `Self`,
/// or the bare name followed by exactly the type's parameters in declaration order
/// (`Tree<'a, T, N>`, or `Json` for a type without parameters).
///
/// Everything else might be another type, and `may_contain_gc` must then ask it instead of
/// assuming it owns nothing:
/// * `other::Node`, `self::Node`, `super::Node`, `::krate::Node`: a path through a module or
///   crate can reach a different type with the same name (and `self::Node` written inside a
///   function body names the module's `Node`, not the body's).
/// * `Tree<u8>` or `Tree<Gc<X>>` inside `Tree<T>`: the same type constructor with other
///   arguments is another type, which may own a `Gc` where `Tree<T>` does not.
/// * Fewer arguments than parameters (`W` in `struct W<T = u8>`, `W<T>` in
///   `struct W<T, U = u8>`): the missing ones are the defaults (`W<u8>`, `W<T, u8>`), not the
///   parameters.
///
/// Nothing can shadow an exact match: a bare name is only accepted for a type without
/// parameters (so no parameter can be named like it), a parameter that shares the type's name
/// cannot take generic arguments, and any other item of that name in the same scope is a
/// compile error. The generated `trace` names every field type as written, so a field type
/// that does not resolve never reaches `may_contain_gc`.
fn is_exactly_self_type(ty: &Type, name: &Ident, generics: &Generics) -> bool {
    let Type::Path(TypePath { qself: None, path }) = strip_type(ty) else {
        return false;
    };
    if path.leading_colon.is_some() || path.segments.len() != 1 {
        return false;
    }
    let segment = &path.segments[0];
    if segment.ident == "Self" {
        return segment.arguments.is_none();
    }
    if segment.ident != *name {
        return false;
    }
    let args: Vec<&GenericArgument> = match &segment.arguments {
        PathArguments::None => Vec::new(),
        PathArguments::AngleBracketed(args) => args.args.iter().collect(),
        PathArguments::Parenthesized(_) => return false,
    };
    args.len() == generics.params.len()
        && generics
            .params
            .iter()
            .zip(args)
            .all(|(param, arg)| is_param_itself(arg, param))
}

/// Whether the generic argument `arg` is the parameter `param` itself: `'a` for `'a`, `T` for
/// `T`, and `N` or `{ N }` for `const N` (a lone `N` parses as a type).
fn is_param_itself(arg: &GenericArgument, param: &GenericParam) -> bool {
    match (param, arg) {
        (GenericParam::Lifetime(param), GenericArgument::Lifetime(arg)) => param.lifetime == *arg,
        (GenericParam::Type(param), GenericArgument::Type(arg)) => is_bare_ident(arg, &param.ident),
        (GenericParam::Const(param), GenericArgument::Type(arg)) => {
            is_bare_ident(arg, &param.ident)
        }
        (GenericParam::Const(param), GenericArgument::Const(arg)) => {
            is_bare_ident_expr(arg, &param.ident)
        }
        _ => false,
    }
}

/// `ty` without the invisible groups a `macro_rules!` `$t:ty` leaves and without parentheses.
fn strip_type(mut ty: &Type) -> &Type {
    loop {
        match ty {
            Type::Group(group) => ty = &group.elem,
            Type::Paren(paren) => ty = &paren.elem,
            _ => return ty,
        }
    }
}

fn is_bare_ident(ty: &Type, ident: &Ident) -> bool {
    matches!(strip_type(ty), Type::Path(TypePath { qself: None, path }) if path.is_ident(ident))
}

/// Whether `expr` is `ident`, possibly in braces, parentheses or invisible groups.
fn is_bare_ident_expr(mut expr: &Expr, ident: &Ident) -> bool {
    loop {
        match expr {
            Expr::Path(ExprPath {
                attrs,
                qself: None,
                path,
            }) => return attrs.is_empty() && path.is_ident(ident),
            Expr::Group(group) if group.attrs.is_empty() => expr = &group.expr,
            Expr::Paren(paren) if paren.attrs.is_empty() => expr = &paren.expr,
            Expr::Block(block)
                if block.attrs.is_empty()
                    && block.label.is_none()
                    && block.block.stmts.len() == 1 =>
            {
                match &block.block.stmts[0] {
                    Stmt::Expr(inner, None) => expr = inner,
                    _ => return false,
                }
            }
            _ => return false,
        }
    }
}

/// Replaces every occurrence of the type being derived ([`is_exactly_self_type`]) with
/// `::cyclegc::__private::Acyclic`.
///
/// Paths under a `qself` (`<Node as Tr>::X`) are left alone: replacing there would change
/// which associated type is meant. So are expressions (an array length, a const argument):
/// the least-fixpoint argument is about what a value owns, and a type named inside a
/// constant is not owned; replacing it could only change the constant.
struct SubstituteSelf<'a> {
    name: &'a Ident,
    generics: &'a Generics,
}

impl VisitMut for SubstituteSelf<'_> {
    fn visit_type_mut(&mut self, ty: &mut Type) {
        if is_exactly_self_type(ty, self.name, self.generics) {
            *ty = parse_quote!(::cyclegc::__private::Acyclic);
        } else {
            visit_mut::visit_type_mut(self, ty);
        }
    }

    fn visit_qself_mut(&mut self, _: &mut QSelf) {}

    fn visit_expr_mut(&mut self, _: &mut Expr) {}
}

/// Walks a type, answering whether any path in it satisfies `pred`.
struct Finder<F: FnMut(&Path) -> bool> {
    pred: F,
    found: bool,
}

impl<F: FnMut(&Path) -> bool> VisitMut for Finder<F> {
    fn visit_path_mut(&mut self, path: &mut Path) {
        if (self.pred)(path) {
            self.found = true;
        }
        visit_mut::visit_path_mut(self, path);
    }
}

fn find_path(ty: &Type, pred: impl FnMut(&Path) -> bool) -> bool {
    let mut finder = Finder { pred, found: false };
    finder.visit_type_mut(&mut ty.clone());
    finder.found
}

/// Whether `ty` mentions one of the generic type parameters (`T`, `T::Item`, `Vec<T>`).
fn mentions_param(ty: &Type, params: &HashSet<Ident>) -> bool {
    if params.is_empty() {
        return false;
    }
    find_path(ty, |path| {
        path.leading_colon.is_none()
            && path
                .segments
                .first()
                .is_some_and(|first| params.contains(&first.ident))
    })
}

/// Whether `ty` might mention the type being derived ([`might_be_self_path`]), anywhere.
fn might_mention_self(ty: &Type, name: &Ident) -> bool {
    find_path(ty, |path| might_be_self_path(path, name))
}

/// For a type that mentions the type being derived, the largest parts of it that mention a
/// type parameter but not the type being derived: `T` in `Vec<(T, Tree<T>)>`. These are
/// what proving `FieldType: Trace` comes down to besides the impl being written. Parts that
/// cannot be taken apart (a `qself`, a function pointer, a trait object) contribute nothing.
fn non_recursive_parts<'a>(
    ty: &'a Type,
    name: &Ident,
    params: &HashSet<Ident>,
    out: &mut Vec<&'a Type>,
) {
    if !mentions_param(ty, params) {
        return;
    }
    if !might_mention_self(ty, name) {
        out.push(ty);
        return;
    }
    if might_be_self_type(ty, name) {
        return;
    }
    match ty {
        Type::Path(TypePath { qself: None, path }) => {
            for segment in &path.segments {
                if let PathArguments::AngleBracketed(args) = &segment.arguments {
                    for arg in &args.args {
                        if let GenericArgument::Type(arg) = arg {
                            non_recursive_parts(arg, name, params, out);
                        }
                    }
                }
            }
        }
        Type::Tuple(tuple) => {
            for elem in &tuple.elems {
                non_recursive_parts(elem, name, params, out);
            }
        }
        Type::Array(array) => non_recursive_parts(&array.elem, name, params, out),
        Type::Slice(slice) => non_recursive_parts(&slice.elem, name, params, out),
        Type::Reference(reference) => non_recursive_parts(&reference.elem, name, params, out),
        Type::Paren(paren) => non_recursive_parts(&paren.elem, name, params, out),
        Type::Group(group) => non_recursive_parts(&group.elem, name, params, out),
        _ => {}
    }
}
